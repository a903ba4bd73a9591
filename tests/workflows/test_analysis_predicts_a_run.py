"""The analysis of a valid workflow: its shape, a wall-time estimate from each skill version's
run samples, the environments that would need building, and conflicts between steps."""

import pytest
from django.db.models import F

from perf.models import Sample
from skills.installer.builder import spec_for
from skills.models import Environment, SkillVersion
from workflows.analysis import workflow_analyze
from workflows.validation import definition_validate

pytestmark = pytest.mark.django_db


def runs(slug: str, durations: list[float], *, ok: bool = True) -> None:
    version = SkillVersion.objects.get(skill__slug=slug, pk=F("skill__current_version"))
    Sample.objects.bulk_create(
        Sample(operation="skill_run", duration=d, ok=ok, skill=slug, version=version.content_hash)
        for d in durations
    )


def analyze(definition: dict):
    return workflow_analyze(validated=definition_validate(definition=definition))


def test_the_estimate_follows_the_critical_path_of_sampled_run_times(catalog, definition):
    runs("upper-text", [0.1, 0.2, 0.3, 0.4, 0.5])
    runs("upper-text", [9.0], ok=False)  # failed runs do not count
    runs("count-words", [1.0, 2.0])

    analysis = analyze(definition())

    assert analysis.critical_path == ["first", "count"]
    assert analysis.estimate["p50_seconds"] == pytest.approx(0.3 + 1.5)
    assert analysis.estimate["p95_seconds"] == pytest.approx(0.48 + 1.95)
    assert analysis.estimate["is_complete"] is True
    assert analysis.estimate["samples"] == 5 + 5 + 2
    assert [(s.step, s.samples) for s in analysis.steps] == [
        ("first", 5), ("upper", 5), ("count", 2)
    ]  # fmt: skip


def test_steps_without_samples_are_named_and_the_estimate_is_a_lower_bound(catalog, definition):
    runs("count-words", [2.0])

    analysis = analyze(definition())

    assert analysis.estimate["steps_without_data"] == ["first", "upper"]
    assert analysis.estimate["is_complete"] is False
    assert analysis.estimate["p50_seconds"] == pytest.approx(2.0)
    assert analysis.steps[0].p50_seconds is None


def test_it_lists_the_environments_that_would_need_building(catalog, definition):
    new_lib = spec_for(language="python", requirements=["packaging>=24"])
    Environment.objects.create(
        key=new_lib.key, language="python", backend=new_lib.backend, requirements=["packaging>=24"],
        interpreter=new_lib.interpreter.version, platform=new_lib.interpreter.platform,
        policy_version=new_lib.policy_version, status="failed", build_seconds=2.5,
    )  # fmt: skip
    plain = spec_for(language="python", requirements=[])
    Sample.objects.bulk_create(
        Sample(operation="package_install", duration=d, environment_key=plain.key)
        for d in (1.0, 3.0)
    )
    steps = [
        {"id": "a", "skill": "upper-text", "params": {"text": "x"}},
        {"id": "b", "skill": "needs-new-lib", "params": {"text": "x"}},
        {"id": "c", "skill": "needs-new-lib", "params": {"text": "y"}},
    ]

    analysis = analyze(definition(steps=steps))

    needs = {(n.key, n.status, tuple(n.steps), n.estimated_build_seconds, n.estimate_source)
             for n in analysis.environments}  # fmt: skip
    assert needs == {
        (plain.key, "missing", ("a",), 2.0, "package_install p50 (2 samples)"),
        (new_lib.key, "failed", ("b", "c"), 2.5, "last build"),
    }


def test_a_ready_environment_needs_no_build(catalog, definition):
    plain = spec_for(language="python", requirements=[])
    Environment.objects.create(
        key=plain.key, language="python", backend=plain.backend, requirements=[],
        interpreter=plain.interpreter.version, platform=plain.interpreter.platform,
        policy_version=plain.policy_version, status="ready",
    )  # fmt: skip
    assert analyze(definition()).environments == []


def test_it_reports_which_steps_ask_for_conflicting_packages(catalog, definition):
    steps = [
        {"id": "old", "skill": "needs-old-lib", "params": {"text": "x"}},
        {"id": "new", "skill": "needs-new-lib", "params": {"text": "x"}},
        {"id": "again", "skill": "needs-new-lib", "params": {"text": "y"}},
    ]

    conflicts = analyze(definition(steps=steps)).conflicts

    assert [(c.package, c.language) for c in conflicts] == [("packaging", "python")]
    assert conflicts[0].requests == [
        {"skill": "needs-old-lib", "version": "1.0.0", "steps": ["old"],
         "specifier": "packaging<20"},
        {"skill": "needs-new-lib", "version": "1.0.0", "steps": ["new", "again"],
         "specifier": "packaging>=24"},
    ]  # fmt: skip


def test_validation_and_analysis_of_100_steps_cost_a_fixed_number_of_queries(
    catalog, definition, django_assert_num_queries
):
    steps = [{"id": "s0", "skill": "upper-text", "params": {"text": "x"}}] + [
        {"id": f"s{i}", "skill": "count-words" if i % 2 else "upper-text",
         "params": {"text": {"$ref": f"steps.s{i - 1}.output.text"}}, "depends_on": [f"s{i - 1}"]}
        for i in range(1, 100)
    ]  # fmt: skip
    runs("upper-text", [0.01])
    with django_assert_num_queries(1):  # the skills with their current versions
        validated = definition_validate(definition=definition(steps=steps))
    # run samples of every version, the environments by key, build samples of the missing ones
    with django_assert_num_queries(3):
        analysis = workflow_analyze(validated=validated)
    assert analysis.depth == 100
    assert analysis.estimate["steps_with_data"] == 50


def test_generations_group_the_steps_that_can_run_in_parallel(catalog, definition):
    steps = [
        {"id": "root", "skill": "upper-text", "params": {"text": "x"}},
        *({"id": f"leaf{i}", "skill": "upper-text", "params": {"text": "x"},
           "depends_on": ["root"]} for i in range(3)),
        {"id": "merge", "skill": "upper-text", "params": {"text": "x"},
         "depends_on": ["leaf0", "leaf1", "leaf2"]},
    ]  # fmt: skip
    analysis = analyze(definition(steps=steps))
    assert analysis.generations == [["root"], ["leaf0", "leaf1", "leaf2"], ["merge"]]
    assert (analysis.depth, analysis.width) == (3, 3)
    assert analysis.critical_path == ["root", "leaf0", "merge"]
