"""Validation reports every error of a definition at once, each naming its step and field."""

from datetime import UTC, datetime

import pytest

from workflows.builder import SkillStep, Workflow, ref
from workflows.errors import DefinitionInvalid
from workflows.validation import definition_errors, definition_validate

pytestmark = pytest.mark.django_db


def step(step_id: str, **fields) -> dict:
    return {"id": step_id, "skill": "upper-text", "params": {"text": "x"}, **fields}


EVERY_BAD_STEP = [
    step("dup"),
    step("dup"),
    step("x", depends_on=["nowhere"]),
    step("selfish", depends_on=["selfish"]),
    step("a", depends_on=["c"]),
    step("b", depends_on=["a"]),
    step("c", depends_on=["b"]),
    step("ghost", skill="no-such-skill"),
    step("drafty", skill="draft-skill"),
    step("old", skill="gone-skill"),
    step("pinned", skill="old-style", version="9.9.9"),
    step("sideways", params={"text": {"$ref": "steps.x.output.text"}}),
    step("asks", params={"text": {"$ref": "inputs.missing"}}),
    step("bad_params", params={"text": "", "top": 0, "extra": 1}),
    step("slow", timeout_seconds=100_000),
]


def test_it_reports_every_error_of_a_definition_at_once(catalog, definition):
    errors = definition_errors(definition=definition(steps=EVERY_BAD_STEP))

    found = [(error.step, error.field, error.code) for error in errors]
    assert found == [
        ("dup", "id", "duplicate_id"),
        ("x", "depends_on", "unknown_dependency"),
        ("selfish", "depends_on", "self_dependency"),
        ("a", "depends_on", "cycle"),
        ("ghost", "skill", "unknown_skill"),
        ("drafty", "skill", "skill_not_approved"),
        ("old", "skill", "skill_deprecated"),
        ("pinned", "version", "unknown_version"),
        ("sideways", "params.text", "ref_not_upstream"),
        ("asks", "params.text", "unknown_input"),
        ("bad_params", "params.extra", "invalid_params"),
        ("bad_params", "params.text", "invalid_params"),
        ("bad_params", "params.top", "invalid_params"),
        ("slow", "timeout_seconds", "timeout_too_long"),
    ]
    assert [error.index for error in errors] == [1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 13, 13, 14]
    messages = {error.code: error.message for error in errors}
    assert messages["cycle"] == "cycle: a → b → c → a"
    assert messages["duplicate_id"] == "duplicate step id (first used by steps[0])"
    assert messages["timeout_too_long"] == "100000 s is over the maximum of 600 s"
    assert "not upstream of 'sideways'" in messages["ref_not_upstream"]
    assert "declares no input 'missing' (declared: text)" in messages["unknown_input"]


def test_it_spells_out_each_cycle_in_the_order_the_steps_would_run(catalog, definition):
    steps = [
        step("a", depends_on=["b"]),
        step("b", depends_on=["a"]),
        step("c"),
        step("d", depends_on=["e"]),
        step("e", depends_on=["f"]),
        step("f", depends_on=["d"]),
    ]
    errors = definition_errors(definition=definition(steps=steps))
    assert [error.message for error in errors] == [
        "cycle: a → b → a",
        "cycle: d → f → e → d",
    ]


def test_it_accepts_references_where_literal_params_are_required(catalog, definition):
    validated = definition_validate(definition=definition())
    assert [s.id for s in validated.steps] == ["first", "upper", "count"]
    assert [f.slug for f in validated.skills] == ["upper-text", "upper-text", "count-words"]


def test_it_runs_a_pinned_version_and_otherwise_the_current_one(catalog, definition):
    steps = [step("then", skill="old-style", version="1.0.0"), step("now", skill="old-style")]
    validated = definition_validate(definition=definition(steps=steps))
    assert [f.version for f in validated.skills] == ["1.0.0", "2.0.0"]


def test_it_rejects_references_that_name_no_input_or_step(catalog, definition):
    steps = [
        step("one", params={"text": {"$ref": "outputs.nothing"}}),
        step("two", params={"text": {"$ref": "steps.nowhere.output"}}),
        step("three", params={"text": {"$ref": "inputs.text", "extra": 1}}),
        step("four", when={"$ref": "steps.one.output.ok"}),
    ]
    errors = definition_errors(definition=definition(steps=steps))
    assert [(e.step, e.field, e.code) for e in errors] == [
        ("one", "params.text", "invalid_ref"),
        ("two", "params.text", "unknown_ref_step"),
        ("three", "params.text", "invalid_ref"),
        ("four", "when", "ref_not_upstream"),
    ]


def test_it_refuses_params_that_are_not_json(catalog):
    workflow = Workflow(
        "Not JSON",
        steps=[SkillStep("one", "upper-text", {"text": "x", "top": {"at": datetime.now(UTC)}})],
    )
    with pytest.raises(DefinitionInvalid) as refused:
        workflow.validate()
    assert [(e.step, e.field, e.code) for e in refused.value.errors] == [
        ("one", "params.top.at", "not_json")
    ]
    assert refused.value.errors[0].message == "datetime is not a JSON value"


def test_it_validates_a_5000_deep_chain_without_recursion(catalog, definition):
    steps = [step("s0")] + [
        step(f"s{i}", params={"text": {"$ref": f"steps.s{i - 1}.output.text"}},
             depends_on=[f"s{i - 1}"])
        for i in range(1, 5000)
    ]  # fmt: skip
    validated = definition_validate(definition=definition(steps=steps))
    assert validated.graph.depth == 5000
    assert validated.graph.width == 1
    assert validated.graph.is_upstream(0, 4999)


def test_it_names_a_5000_step_cycle_without_recursion(catalog, definition):
    steps = [step("s0", depends_on=["s4999"])] + [
        step(f"s{i}", depends_on=[f"s{i - 1}"]) for i in range(1, 5000)
    ]
    errors = definition_errors(definition=definition(steps=steps))
    assert len(errors) == 1
    assert errors[0].message.startswith("cycle: s0 → s1 → s2 → ")
    assert errors[0].message.endswith(" → s4999 → s0")


def test_it_refuses_100000_steps_before_reading_any(catalog, definition,
                                                   django_assert_num_queries):  # fmt: skip
    steps = [{"id": f"s{i}", "skill": "upper-text"} for i in range(100_000)]
    with django_assert_num_queries(0):
        errors = definition_errors(definition=definition(steps=steps))
    assert [(e.field, e.code, e.message) for e in errors] == [
        (
            "steps",
            "too_many_steps",
            "100,000 steps; at most 10,000 are allowed (ATOM_WORKFLOW_MAX_STEPS)",
        )  # fmt: skip
    ]


def test_the_step_limit_comes_from_the_setting(catalog, definition, settings):
    settings.ATOM_WORKFLOW_MAX_STEPS = 2
    errors = definition_errors(definition=definition())
    assert [e.code for e in errors] == ["too_many_steps"]


def test_it_refuses_a_definition_that_is_not_a_mapping(db):
    errors = definition_errors(definition=["steps"])
    assert [(e.field, e.code) for e in errors] == [("definition", "not_a_mapping")]


def test_it_reports_bad_fields_of_the_definition_and_its_steps(catalog, definition):
    raw = definition(
        name="",
        inputs={"type": "array"},
        colour="blue",
        steps=[{"id": "has.dot", "skill": "upper-text"}, "not a step",
               {"id": "ok", "skill": "upper-text", "params": {"text": "x"}, "retries": -1,
                "retry_backoff": 0.5, "depends_on": "first", "speed": 1}],
    )  # fmt: skip
    errors = definition_errors(definition=raw)
    assert [(e.step, e.index, e.field, e.code) for e in errors] == [
        ("", None, "colour", "unknown_field"),
        ("", None, "name", "invalid"),
        ("", None, "inputs", "invalid_schema"),
        ("", 0, "id", "invalid"),
        ("", 1, "step", "invalid"),
        ("ok", 2, "speed", "unknown_field"),
        ("ok", 2, "retries", "invalid"),
        ("ok", 2, "retry_backoff", "invalid"),
        ("ok", 2, "depends_on", "unknown_dependency"),
    ]


def test_it_records_a_validation_sample_for_valid_and_invalid_definitions(catalog, definition):
    from perf.models import Sample
    from perf.recording import buffer, flush

    buffer.clear()
    definition_validate(definition=definition())
    definition_errors(definition=definition(steps=[step("a", depends_on=["a"])]))
    flush()
    samples = Sample.objects.filter(operation="workflow_validation").order_by("id")
    assert [(s.workflow, s.ok, s.error, s.context) for s in samples] == [
        ("text-report", True, "", {"steps": 3}),
        ("text-report", False, "DefinitionInvalid", {"steps": 1}),
    ]


def test_builder_references_read_as_refs(catalog):
    workflow = Workflow(
        "Built",
        inputs={"type": "object", "properties": {"text": {"type": "string"}}},
        steps=[SkillStep("one", "upper-text", {"text": ref("inputs.text")}),
               SkillStep("two", "count-words", {"text": ref("steps.one.output.text")},
                         depends_on=["one"])],
    )  # fmt: skip
    analysis = workflow.validate()
    assert analysis.generations == [["one"], ["two"]]
    assert analysis.critical_path == ["one", "two"]


def test_an_integer_too_large_for_a_float_is_not_a_number_of_seconds(catalog, definition):
    huge = 10**400
    raw = definition(
        steps=[step("s", timeout_seconds=huge, retry_delay_seconds=huge, retry_backoff=huge)]
    )
    errors = definition_errors(definition=raw)
    assert [(e.step, e.field, e.code) for e in errors] == [
        ("s", "timeout_seconds", "invalid"),
        ("s", "retry_delay_seconds", "invalid"),
        ("s", "retry_backoff", "invalid"),
    ]
