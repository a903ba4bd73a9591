"""`manage.py envs list | gc` and the admin pages for environments and install jobs."""

import json
import subprocess
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

import skills.installer.admin  # noqa: F401 - registers the admin classes (skills.catalog.admin imports it)
from skills.installer.builder import READY_COPY_SECONDS, environment_ensure
from skills.models import Environment, InstallJob, InstallJobStatus, InstallLogLine
from tests.skills.installer.conftest import unique_requirement

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("envs", *args, stdout=out)
    return out.getvalue()


def test_envs_list_shows_keys_sizes_and_uses(envs_dir):
    environment = environment_ensure(language="python", requirements=["six"])

    lines = run("list").splitlines()

    assert lines[0].split() == [
        "key", "backend", "status", "size", "uses", "last", "used", "requirements"
    ]  # fmt: skip
    assert lines[1].startswith(environment.key[:12])
    assert " uv " in lines[1]
    assert " ready " in lines[1]
    assert lines[1].endswith("six")
    assert len(lines) == 2


def test_gc_removes_only_environments_unused_for_the_period(envs_dir):
    old = environment_ensure(language="python", requirements=["six"])
    recent = environment_ensure(language="python", requirements=["iniconfig"])
    busy = environment_ensure(language="python", requirements=["packaging"])
    eight_days_ago = timezone.now() - timedelta(days=8)
    Environment.objects.filter(pk__in=[old.pk, busy.pk]).update(last_used_at=eight_days_ago)
    InstallJob.objects.create(environment=busy, status=InstallJobStatus.QUEUED)

    output = run("gc", "--unused-for", "7d")

    assert output.splitlines()[0].startswith("removed 1 environment(s), freeing ")
    assert f"  {old.key}" in output.splitlines()
    assert "kept 1 in use" in output
    assert "uv cache pruned: " in output
    assert not Path(old.location).exists()
    assert set(Environment.objects.values_list("key", flat=True)) == {recent.key, busy.key}
    assert Path(recent.location).is_dir()
    assert Path(busy.location).is_dir()


def test_gc_keeps_an_environment_a_warm_call_may_still_start_in(envs_dir):
    used = environment_ensure(language="python", requirements=["six"])
    Environment.objects.filter(pk=used.pk).update(
        last_used_at=timezone.now() - timedelta(seconds=READY_COPY_SECONDS + 1)
    )

    output = run("gc", "--unused-for", "1s")

    assert output.splitlines()[0].startswith("removed 0 environment(s)")
    assert Path(used.location).is_dir()


def test_gc_dry_run_changes_nothing(envs_dir):
    old = environment_ensure(language="python", requirements=["six"])
    Environment.objects.filter(pk=old.pk).update(last_used_at=timezone.now() - timedelta(days=30))

    output = run("gc", "--unused-for", "7d", "--dry-run")

    assert output.splitlines()[0].startswith("would remove 1 environment(s)")
    assert Environment.objects.filter(pk=old.pk).exists()
    assert Path(old.location).is_dir()


def test_gc_refuses_a_bad_period():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="use a number and a unit"):
        run("gc", "--unused-for", "a week")


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    return client


def test_the_admin_shows_environments_jobs_logs_and_lockfiles(admin_client, envs_dir):
    environment = environment_ensure(language="python", requirements=["six"])
    job = InstallJob.objects.create(environment=environment, status=InstallJobStatus.SUCCEEDED)
    InstallLogLine.objects.create(job=job, text="verify: imported six")

    listing = admin_client.get("/admin/skills/environment/")
    detail = admin_client.get(f"/admin/skills/environment/{environment.pk}/change/")
    job_page = admin_client.get(f"/admin/skills/installjob/{job.pk}/change/")

    assert listing.status_code == 200
    assert environment.key[:12] in listing.text
    assert detail.status_code == 200
    assert "--hash=sha256:" in detail.text
    assert job_page.status_code == 200
    assert "verify: imported six" in job_page.text


def test_the_admin_delete_action_removes_files_and_row(admin_client, envs_dir):
    environment = environment_ensure(language="python", requirements=["six"])

    response = admin_client.post(
        "/admin/skills/environment/",
        {"action": "delete_selected_with_files", "_selected_action": [environment.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "deleted" in response.text
    assert not Environment.objects.exists()
    assert not Path(environment.location).exists()


def test_the_admin_rebuild_action_queues_a_job(
    admin_client, envs_dir, django_capture_on_commit_callbacks
):
    environment = environment_ensure(language="python", requirements=["six"])

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(
            "/admin/skills/environment/",
            {"action": "rebuild_selected", "_selected_action": [environment.pk]},
        )

    job = InstallJob.objects.get()
    assert (job.environment_id, job.status) == (environment.pk, InstallJobStatus.QUEUED)
    assert len(callbacks) == 2  # the job enqueued, and its live events published
    environment.refresh_from_db()
    assert environment.status == "pending"


def test_the_admin_retry_action_queues_failed_jobs_only(
    admin_client, envs_dir, django_capture_on_commit_callbacks
):
    environment = environment_ensure(language="python", requirements=["six"])
    failed = InstallJob.objects.create(
        environment=environment, status=InstallJobStatus.FAILED, error="index unreachable"
    )
    succeeded = InstallJob.objects.create(
        environment=environment, status=InstallJobStatus.SUCCEEDED
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            "/admin/skills/installjob/",
            {"action": "retry_selected", "_selected_action": [failed.pk, succeeded.pk]},
            follow=True,
        )

    assert [message.message for message in response.context["messages"]] == [
        f"job {failed.pk} queued again"
    ]
    failed.refresh_from_db()
    succeeded.refresh_from_db()
    assert (failed.status, failed.error) == (InstallJobStatus.QUEUED, "")
    assert succeeded.status == InstallJobStatus.SUCCEEDED
    assert len([c for c in callbacks if "install_job_retry" in c.__qualname__]) == 1
    assert list(failed.log_lines.values_list("text", flat=True)) == ["retry requested"]


def test_the_admin_lists_the_install_slots_held_across_the_cluster(admin_client, settings):
    from skills.installer.slots import slot_try_claim

    settings.MAX_CONCURRENT_INSTALLATIONS = 2
    slot_try_claim(environment_key="0123456789abcdef")

    listing = admin_client.get("/admin/skills/installslot/")

    assert listing.status_code == 200
    assert "0123456789abcdef" in listing.text
    assert admin_client.get("/admin/skills/installslot/add/").status_code == 403


def test_envs_ensure_refuses_a_bad_requirement_and_writes_no_job():
    with pytest.raises(CommandError, match="refused"):
        run("ensure", "not a requirement!")
    assert InstallJob.objects.count() == 0


def test_envs_ensure_ends_cleanly_after_compiling_the_cache_bytecode(
    manage_py, installer_env, tmp_path
):
    # A cache of its own: the build's wheels are new to it, so their bytecode is compiled in
    # the background after the build, while the command is returning.
    cache = tmp_path / "uv-cache"
    done = subprocess.run(
        [*manage_py, "envs", "ensure", unique_requirement("iniconfig")],
        env={**installer_env, "ATOM_UV_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "can't create new thread" not in done.stderr
    # Its progress, drawn from the job's events: the build's log lines, then one summary line.
    job = InstallJob.objects.get()
    assert json.loads(done.stdout)["key"] == job.environment.key
    assert "ready in" in done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"install job {job.pk} succeeded in ")
    assert summary.endswith(f" ({job.log_lines.count()} log lines)")
    # The compile finished before the process ended (it was joined, not cut short).
    markers = sorted(path.name for path in (tmp_path / "uv-cache.bytecode").iterdir())
    assert markers
    assert all(name.endswith(".cpython-312") for name in markers)
