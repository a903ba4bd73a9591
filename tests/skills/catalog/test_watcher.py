import threading
import time
from pathlib import Path

import pytest

from skills.catalog.watcher import SkillsWatcher, SyncOutcome, skill_file_sync
from skills.models import RejectedSkillFile, Skill, SkillStatus
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def watcher(tmp_path):
    outcomes: list[SyncOutcome] = []
    arrived = threading.Condition()

    def record(outcome: SyncOutcome) -> None:
        with arrived:
            outcomes.append(outcome)
            arrived.notify_all()

    running = SkillsWatcher(tmp_path, debounce=0.03, on_outcome=record)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    assert running.ready.wait(5)

    def wait_for(count: int, timeout: float = 10) -> list[SyncOutcome]:
        deadline = time.monotonic() + timeout
        with arrived:
            while len(outcomes) < count and time.monotonic() < deadline:
                arrived.wait(deadline - time.monotonic())
        return list(outcomes)

    yield tmp_path, wait_for
    running.stop()
    thread.join(5)


def save_like_an_editor(path: Path, text: str) -> None:
    """Write a temporary file and rename it over the original, as vim and VS Code do."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    temporary.replace(path)


def test_a_new_file_becomes_a_skill_and_an_edit_a_new_version(watcher):
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source())
    assert [o.action for o in wait_for(1)] == ["created"]

    save_like_an_editor(path, skill_source(body="def run(text=''):\n    return {'v': 2}\n"))

    assert [o.action for o in wait_for(2)] == ["created", "updated"]
    skill = Skill.objects.get(slug="echo-text")
    assert skill.versions.count() == 2
    assert "{'v': 2}" in skill.current_version.source


def test_a_burst_of_writes_makes_one_version(watcher):
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source())
    wait_for(1)

    for n in range(5):
        path.write_text(skill_source(body=f"def run():\n    return {{'n': {n}}}\n"))

    outcomes = wait_for(2)
    time.sleep(0.2)  # let any straggling event arrive before counting
    assert [o.action for o in outcomes] == ["created", "updated"]
    assert Skill.objects.get().versions.count() == 2


def test_an_invalid_edit_keeps_the_previous_version_and_records_the_error(watcher):
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source())
    wait_for(1)
    version = Skill.objects.get().current_version_id

    path.write_text(skill_source(version="not a version"))

    assert [o.action for o in wait_for(2)] == ["created", "rejected"]
    skill = Skill.objects.get()
    assert skill.current_version_id == version
    assert "tool.atom.version: 'not a version' is not a PEP 440 version" in skill.last_error
    assert skill.history.first().action == "rejected"


def test_a_new_invalid_file_is_shown_in_the_admin_until_it_is_fixed(watcher, admin_client):
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source(version="not a version"))

    assert [o.action for o in wait_for(1)] == ["rejected"]
    assert Skill.objects.count() == 0
    rejected = RejectedSkillFile.objects.get()
    assert rejected.path == str(path.resolve())
    assert "tool.atom.version: 'not a version' is not a PEP 440 version" in rejected.message
    listing = admin_client.get("/admin/skills/rejectedskillfile/").content.decode()
    assert str(path.resolve()) in listing
    assert "is not a PEP 440 version" in listing

    save_like_an_editor(path, skill_source())

    assert [o.action for o in wait_for(2)] == ["rejected", "created"]
    assert RejectedSkillFile.objects.count() == 0
    assert Skill.objects.get().slug == "echo-text"


def test_removing_a_rejected_new_file_forgets_its_error(tmp_path):
    path = tmp_path / "echo.py"
    path.write_text(skill_source(dependencies=["not a requirement!"]))
    assert skill_file_sync(path).action == "rejected"
    assert RejectedSkillFile.objects.count() == 1

    path.unlink()

    assert skill_file_sync(path).action == "ignored"
    assert RejectedSkillFile.objects.count() == 0


def test_deleting_the_file_deprecates_the_skill(watcher):
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source())
    wait_for(1)

    path.unlink()

    assert [o.action for o in wait_for(2)] == ["created", "deprecated"]
    assert Skill.objects.get().status == SkillStatus.DEPRECATED


def test_a_save_that_changes_nothing_writes_nothing(tmp_path):
    path = tmp_path / "echo.py"
    path.write_text(skill_source())
    skill_file_sync(path)

    assert skill_file_sync(path).action == "unchanged"
    assert Skill.objects.get().versions.count() == 1


def test_vims_backup_dance_makes_one_version_and_no_deprecation(watcher):
    """vim (backupcopy=no) renames the file to a backup, writes a new file, deletes the backup."""
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source())
    wait_for(1)
    backup = folder / "echo.py~"

    path.rename(backup)
    path.write_text(skill_source(body="def run():\n    return {'saved': 'by vim'}\n"))
    backup.unlink()

    outcomes = wait_for(2)
    time.sleep(0.2)  # let any straggling event arrive before counting
    assert [o.action for o in outcomes] == ["created", "updated"]
    skill = Skill.objects.get()
    assert skill.status == SkillStatus.DRAFT
    assert skill.versions.count() == 2
    assert list(skill.history.values_list("action", flat=True)) == ["updated", "created"]


def test_moving_a_file_moves_the_skill_without_a_new_version(watcher):
    folder, wait_for = watcher
    old = folder / "echo.py"
    old.write_text(skill_source())
    wait_for(1)
    (folder / "texts").mkdir()
    new = folder / "texts" / "echo-text.py"

    old.rename(new)

    outcomes = wait_for(3)
    assert [(o.action, o.path) for o in outcomes[1:]] == [
        ("unchanged", str(new.resolve())),
        ("ignored", str(old.resolve())),
    ]
    skill = Skill.objects.get()
    assert skill.source_path == str(new.resolve())
    assert skill.status == SkillStatus.DRAFT
    assert skill.versions.count() == 1


def test_a_save_with_the_same_content_writes_nothing_through_the_watcher(watcher):
    folder, wait_for = watcher
    path = folder / "echo.py"
    path.write_text(skill_source())
    wait_for(1)
    skill = Skill.objects.get()
    before = (skill.current_version_id, skill.updated_at, skill.history.count())

    save_like_an_editor(path, skill_source())

    assert [o.action for o in wait_for(2)] == ["created", "unchanged"]
    skill.refresh_from_db()
    assert (skill.current_version_id, skill.updated_at, skill.history.count()) == before
    assert skill.versions.count() == 1


def test_the_development_autoreloader_ignores_skill_files(settings, tmp_path):
    from django.utils.autoreload import StatReloader

    settings.ATOM_SKILLS_DIR = tmp_path / "skills"
    reloader = StatReloader()

    reloader.notify_file_changed(tmp_path / "skills" / "echo.py")  # no restart

    with pytest.raises(SystemExit) as restarted:
        reloader.notify_file_changed(tmp_path / "settings.py")
    assert restarted.value.code == 3


def test_the_watch_command_turns_saves_into_versions_and_stops_on_sigterm(
    tmp_path, manage_py, process_env
):
    import signal
    import subprocess

    folder = tmp_path / "watched"
    folder.mkdir()
    watching = subprocess.Popen(
        [*manage_py, "skills", "watch", "--path", str(folder)],
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watching.stdout.readline().startswith("Watching ")
        path = folder / "echo.py"
        save_like_an_editor(path, skill_source())
        deadline = time.monotonic() + 20
        while not Skill.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        save_like_an_editor(path, skill_source(version="1.1.0"))
        while (
            not Skill.objects.filter(current_version__version="1.1.0").exists()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        watching.send_signal(signal.SIGTERM)
        output, errors = watching.communicate(timeout=20)
    finally:
        watching.kill()

    assert watching.returncode == 0, errors
    assert output.strip() == "Watcher stopped."
    assert Skill.objects.exists(), errors
    skill = Skill.objects.get()
    assert list(skill.versions.order_by("created_at").values_list("version", flat=True)) == [
        "1.0.0",
        "1.1.0",
    ]
    assert skill.source_path == str(path.resolve())
