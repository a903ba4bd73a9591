"""run_skill: the catalog's versions run in their own environment's warm pool."""

from pathlib import Path

import pytest

import skills.runtime
from perf import recording
from perf.models import Sample
from skills.catalog.importer import SkillSource, skills_import
from skills.models import Agent, Skill
from skills.runs.calls import run_skill
from skills.runs.errors import InvalidParams, SkillNotRunnable
from skills.runs.plan import params_validate
from tests.commits import statements_not_awaited
from tests.skills.conftest import skill_source

INPUTS = (
    "#\n"
    "# [tool.atom.inputs]\n"
    '# type = "object"\n'
    '# required = ["text"]\n'
    "# additionalProperties = false\n"
    "#\n"
    "# [tool.atom.inputs.properties.text]\n"
    '# type = "string"\n'
)


@pytest.fixture
def catalog_skill(settings, tmp_path: Path, transactional_db):
    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    path = tmp_path / "shout.py"

    def publish(version: str, body: str) -> Skill:
        path.write_text(skill_source("shout", version=version, body=body, extra=INPUTS))
        skills_import(sources=[SkillSource.from_path(path)])
        return Skill.objects.get(slug="shout")

    yield publish
    skills.runtime.shutdown()


def test_run_skill_runs_the_current_version_and_records_its_samples(catalog_skill):
    skill = catalog_skill("1.0.0", "def run(text):\n    return text.upper()\n")
    recording.buffer.clear()

    result = run_skill(skill, {"text": "hi"})
    recording.flush()

    assert (result.ok, result.result, result.cache) == (True, "HI", "loaded")
    assert result.content_hash == skill.current_version.content_hash
    assert Skill.objects.get(pk=skill.pk).run_count == 1
    samples = Sample.objects.filter(skill="shout").order_by("operation")
    assert [(sample.operation, sample.ok) for sample in samples] == [
        ("skill_load", True),
        ("skill_run", True),
    ]


def test_a_new_version_runs_in_a_runner_of_its_own_and_an_old_one_stays_runnable(catalog_skill):
    old = catalog_skill("1.0.0", "def run(text):\n    return text.upper()\n")
    first = run_skill(old, {"text": "hi"})
    old_version = old.current_version

    new = catalog_skill("1.1.0", "def run(text):\n    return text + '!'\n")
    second = run_skill(new, {"text": "hi"})
    again_old = run_skill(new, {"text": "hi"}, version=old_version)

    assert (first.result, second.result, again_old.result) == ("HI", "hi!", "HI")
    assert (second.cache, again_old.cache) == ("reloaded", "reloaded")
    # A runner serves one version: the old one's runner went when the new version ran.
    assert len({first.runner_pid, second.runner_pid, again_old.runner_pid}) == 3


def test_params_that_break_the_inputs_schema_are_refused_before_any_call(catalog_skill):
    skill = catalog_skill("1.0.0", "def run(text):\n    return text\n")

    with pytest.raises(InvalidParams) as refused:
        run_skill(skill, {"text": 3})

    assert (refused.value.field, refused.value.message) == ("text", "3 is not of type 'string'")
    assert Skill.objects.get(pk=skill.pk).run_count == 0
    assert skills.runtime.registry().pools() == []


def test_params_that_are_not_an_object_are_refused_naming_params(catalog_skill):
    skill = catalog_skill("1.0.0", "def run(text):\n    return text\n")

    with pytest.raises(InvalidParams) as refused:
        run_skill(skill, ["text", "hi"])

    assert (refused.value.field, refused.value.message) == ("params", "must be an object")
    assert refused.value.params_field == "params"
    assert Skill.objects.get(pk=skill.pk).run_count == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "text"), ({"text": "a", "loud": True}, "loud"), ({"text": ["a"]}, "text")],
)
def test_invalid_params_name_their_field(params, field):
    schema = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": {"type": "string"}},
    }

    with pytest.raises(InvalidParams) as refused:
        params_validate(schema=schema, params=params)

    assert refused.value.field == field


def test_a_skill_without_a_version_is_not_runnable(db):
    skill = Skill.objects.create(slug="empty", category="text", type="utility")

    with pytest.raises(SkillNotRunnable, match="empty has no version to run"):
        run_skill(skill, {})


def test_a_reload_records_a_hot_reload_sample_and_every_run_counts(catalog_skill):
    agent = Agent.objects.create(slug="reporter", name="Reporter")
    catalog_skill("1.0.0", "def run(text):\n    return text.upper()\n")
    run_skill(Skill.objects.get(slug="shout"), {"text": "a"}, agent=agent)
    skill = catalog_skill("1.1.0", "def run(text):\n    raise ValueError(text)\n")
    recording.buffer.clear()

    failed = run_skill(skill, {"text": "b"}, agent=agent)
    recording.flush()

    assert (failed.ok, failed.error.type, failed.cache) == (False, "ValueError", "reloaded")
    # This version's samples (other tests' writer threads may still be writing theirs).
    samples = Sample.objects.filter(version=skill.current_version.content_hash).order_by(
        "operation"
    )
    assert [(sample.operation, sample.ok, sample.agent) for sample in samples] == [
        ("hot_reload", True, "reporter"),
        ("skill_run", False, "reporter"),
    ]
    assert samples[1].skill == "shout"
    assert Skill.objects.get(pk=skill.pk).run_count == 2


def test_on_postgresql_a_warm_run_s_counters_commit_without_waiting_for_the_disk(catalog_skill):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    skill = catalog_skill("1.0.0", "def run(text):\n    return text.upper()\n")
    run_skill(skill, {"text": "warm"})

    with CaptureQueriesContext(connection) as queries:
        result = run_skill(skill, {"text": "hi"})

    statements = [query["sql"] for query in queries.captured_queries]
    writes = [sql.split(" SET ")[0] for sql in statements if sql.startswith("UPDATE")]
    relaxed = [sql.split(" SET ")[0] for sql in statements_not_awaited(statements)]
    assert result.result == "HI"
    assert relaxed == writes == ['UPDATE "skills_environment"', 'UPDATE "skills_skill"']
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)  # only those two transactions
    assert Skill.objects.get(pk=skill.pk).run_count == 2
