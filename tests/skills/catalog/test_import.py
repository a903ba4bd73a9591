import pytest
from django.contrib.auth import get_user_model

from skills.catalog.importer import ImportRefused, SkillSource, skills_import, sources_from_paths
from skills.catalog.transitions import skill_update
from skills.models import Agent, AgentSkill, Skill, SkillHistory, SkillStatus, SkillVersion
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db


def import_paths(*paths, **kwargs):
    sources, errors = sources_from_paths(list(paths))
    return skills_import(sources=sources, errors=errors, **kwargs)


def catalog_state() -> tuple:
    return (
        sorted(Skill.objects.values_list("slug", "content_hash", "status")),
        SkillVersion.objects.count(),
        SkillHistory.objects.count(),
    )


def test_a_folder_is_imported_with_versions_and_history(write_skill):
    write_skill("a.py", name="alpha")
    write_skill("b.py", name="beta", dependencies=["six>=1.16"])

    report = import_paths(write_skill().parent)

    assert sorted(report.created) == ["alpha", "beta", "echo-text"]
    beta = Skill.objects.get(slug="beta")
    assert beta.status == SkillStatus.DRAFT
    assert beta.current_version.version == "1.0.0"
    assert beta.current_version.requirements == ["six>=1.16"]
    assert list(beta.history.values_list("action", flat=True)) == ["created"]


def test_reimporting_an_unchanged_file_writes_nothing(write_skill, django_assert_num_queries):
    path = write_skill()
    import_paths(path)
    before = catalog_state()

    with django_assert_num_queries(2):  # skills, versions
        report = import_paths(path)

    assert report.unchanged == ["echo-text"]
    assert catalog_state() == before


def test_a_changed_file_with_a_new_version_becomes_a_new_version(write_skill):
    folder = write_skill().parent
    import_paths(folder)
    write_skill(version="1.1.0", body="def run(text=''):\n    return {'text': text.upper()}\n")

    report = import_paths(folder)

    skill = Skill.objects.get(slug="echo-text")
    assert report.updated == ["echo-text"]
    assert skill.current_version.version == "1.1.0"
    assert list(skill.versions.order_by("created_at").values_list("version", flat=True)) == [
        "1.0.0",
        "1.1.0",
    ]
    assert list(skill.history.values_list("action", flat=True)) == ["updated", "created"]


def test_changed_content_under_the_same_version_is_refused_and_nothing_changes(write_skill):
    path = write_skill()
    import_paths(path)
    Skill.objects.update(status=SkillStatus.APPROVED)
    before = catalog_state()
    write_skill(body="def run(text=''):\n    return {'text': 'changed'}\n")

    with pytest.raises(ImportRefused) as refused:
        import_paths(path)

    assert [str(e) for e in refused.value.errors] == [
        f"{path}: tool.atom.version: version 1.0.0 of 'echo-text' already exists with other "
        "content; versions are immutable, so give the changed file a new version"
    ]
    assert catalog_state() == before


def test_the_watcher_turns_an_edit_under_the_same_version_into_a_local_version(write_skill):
    path = write_skill()
    import_paths(path)
    write_skill(body="def run(text=''):\n    return {'text': 'edited'}\n")

    import_paths(path, edits_make_versions=True)

    skill = Skill.objects.get(slug="echo-text")
    assert skill.current_version.version == f"1.0.0+edit.{skill.content_hash[:10]}"
    assert skill.versions.count() == 2


def test_one_bad_file_refuses_the_whole_import_and_lists_every_error(write_skill):
    folder = write_skill("good.py", name="good-skill").parent
    write_skill("bad.py", name="Bad")
    write_skill("dup1.py", name="twin")
    write_skill("dup2.py", name="twin")

    with pytest.raises(ImportRefused) as refused:
        import_paths(folder / "good.py", folder)

    messages = [str(e) for e in refused.value.errors]
    assert any("bad.py:6: tool.atom.name: 'Bad' is not a slug" in m for m in messages)
    assert any("dup2.py: tool.atom.name: 'twin' is also the name of" in m for m in messages)
    assert any("'good-skill' is also the name of" in m for m in messages)
    assert catalog_state() == ([], 0, 0)


def test_approve_on_import_records_actor_and_time(write_skill, admin_user):
    import_paths(write_skill(), approve=True, actor=admin_user)

    skill = Skill.objects.get()
    assert skill.status == SkillStatus.APPROVED
    assert skill.approved_by == admin_user
    assert skill.approved_at is not None
    assert sorted(skill.history.values_list("action", flat=True)) == ["approved", "created"]


def test_a_skill_update_is_one_transaction_with_a_bounded_number_of_queries(
    write_skill, django_assert_num_queries
):
    import_paths(write_skill())
    agents = [Agent.objects.create(slug=f"agent-{i}", name=f"Agent {i}") for i in range(2)]
    source = SkillSource(
        "echo-text.py",
        "echo-text.py",
        skill_source(version="2.0.0", body="def run():\n    return {}\n").encode(),
    )

    # savepoint 2, plan 2, version + skill + history 3, mappings 3 — for any number of agents
    with django_assert_num_queries(10):
        skill_update(source=source, agents_add=agents)

    skill = Skill.objects.get()
    assert skill.current_version.version == "2.0.0"
    assert sorted(AgentSkill.objects.values_list("agent__slug", flat=True)) == [
        "agent-0",
        "agent-1",
    ]
    assert sorted(skill.history.values_list("action", flat=True)) == [
        "created",
        "mapped",
        "mapped",
        "updated",
    ]


def test_a_failed_update_leaves_mappings_untouched(write_skill):
    import_paths(write_skill())
    agent = Agent.objects.create(slug="bot", name="Bot")
    bad = SkillSource("echo-text.py", "echo-text.py", b"def run(): pass\n")

    with pytest.raises(ImportRefused):
        skill_update(source=bad, agents_add=[agent])

    assert AgentSkill.objects.count() == 0


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345678")


def test_a_refused_import_inside_a_transaction_leaves_it_usable(write_skill):
    from django.db import transaction

    path = write_skill()
    import_paths(path)
    write_skill(body="def run(text=''):\n    return {'text': 'changed'}\n")

    with transaction.atomic():
        with pytest.raises(ImportRefused):
            import_paths(path)
        Agent.objects.create(slug="after", name="After")  # the transaction still works

    assert Agent.objects.filter(slug="after").exists()
    assert Skill.objects.get().versions.count() == 1
