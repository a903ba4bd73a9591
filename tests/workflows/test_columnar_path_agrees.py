"""The columnar path says "valid" only where the detailed path does, with the same graph, the
same skill versions and the same normalized definition; everything else goes to the detailed
path."""

import copy

import pytest

from tests.workflows.conftest import skill_text, skills_add
from workflows.columns import columns_validate
from workflows.validation import _validate_in_detail, definition_validate

pytestmark = pytest.mark.django_db


def step(step_id: str, **fields) -> dict:
    return {"id": step_id, "skill": "upper-text", "params": {"text": "x"}, **fields}


def layered(count: int, width: int) -> list[dict]:
    steps = []
    for i in range(count):
        params = {"top": i % 3 + 1}
        item = {"id": f"s{i}", "skill": ("upper-text", "count-words")[i % 2], "params": params}
        if i < width:
            params["text"] = {"$ref": "inputs.text"}
        else:
            params["text"] = {"$ref": f"steps.s{i - width}.output.text"}
            item["depends_on"] = [f"s{i - width}"] + ([f"s{i - width - 1}"] if i % width else [])
        steps.append(item)
    return steps


TAKEN_BY_THE_COLUMNS = {
    "layers": layered(60, 7),
    "children listed out of order": [
        step("a"),
        step("b"),
        step("c", depends_on=["b", "a"]),
        step("d", depends_on=["a"]),
        step("e", depends_on=["d", "b"], params={"text": {"$ref": "steps.a.output.text.0"}}),
    ],
    "a step before its parent": [step("late", depends_on=["early"]), step("early")],
    "literal and referenced text in one key": [
        step("a", params={"text": "literal", "top": 2}),
        step("b", params={"text": {"$ref": "steps.a.output"}}, depends_on=["a"]),
    ],
    "every step field": [
        step(
            "a",
            version="1.0.0",
            skill="old-style",
            timeout_seconds=5,
            retries=3,
            retry_delay_seconds=0,
            retry_backoff=1,
            depends_on=[],
        ),
        step(
            "b",
            params={"text": "y"},
            depends_on=None,
            timeout_seconds=2.5,
            retries=0,
            retry_delay_seconds=1.5,
            retry_backoff=3.0,
        ),
    ],  # fmt: skip
    "no params where none are required": [
        {"id": "a", "skill": "no-schema"},
        {"id": "b", "skill": "no-schema", "params": None},
    ],
    "an upstream reference two steps up": [
        step("a"),
        step("b", depends_on=["a"]),
        step("c", depends_on=["b"], params={"text": {"$ref": "steps.a.output.text"}}),
    ],
}

TAKEN_BY_THE_DETAILED_PATH = {
    "a condition": [step("a"), step("b", when={"$ref": "steps.a.output.ok"}, depends_on=["a"])],
    "a single dependency as a string": [step("a"), step("b", depends_on="a")],
    "a dependency listed twice": [step("a"), step("b", depends_on=["a", "a"])],
    "a literal wrapper": [step("a", params={"text": {"$literal": {"$ref": "kept"}}})],
    "a nested reference": [step("a", params={"text": "x", "top": [{"$ref": "inputs.text"}]})],
    "a list param": [{"id": "a", "skill": "no-schema", "params": {"rows": [1, 2]}}],
    "an id with a newline": [step("a\n")],
    "a reference under an unknown key": [
        step("a", params={"text": "x", "extra": {"$ref": "inputs.text"}})
    ],
    "an unknown field": [step("a", colour="blue")],
}


@pytest.fixture
def more_skills(catalog):
    skills_add(skill_text("no-schema", inputs=""))


def definition_with(steps: list[dict]) -> dict:
    return {
        "name": "Columns",
        "inputs": {"type": "object", "properties": {"text": {"type": "string"}}},
        "steps": steps,
    }


@pytest.mark.parametrize("name", TAKEN_BY_THE_COLUMNS)
def test_the_columns_agree_with_the_detailed_path(more_skills, name):
    definition = definition_with(TAKEN_BY_THE_COLUMNS[name])
    before = copy.deepcopy(definition)

    columns, catalog = columns_validate(definition, max_steps=10_000)
    assert columns is not None
    detailed, errors = _validate_in_detail(copy.deepcopy(definition), 10_000, catalog)
    assert errors == []
    fast_definition, graph, facts = columns
    for part in ("ids", "parents", "children", "order", "generations", "is_acyclic"):
        assert getattr(graph, part) == getattr(detailed.graph, part), part
    assert facts == detailed.skills
    assert fast_definition.as_dict() == detailed.definition.as_dict()
    assert fast_definition.content_hash() == detailed.definition.content_hash()
    assert definition == before  # nothing written into the definition


@pytest.mark.parametrize("name", TAKEN_BY_THE_DETAILED_PATH)
def test_anything_unusual_takes_the_detailed_path(more_skills, name):
    columns, _ = columns_validate(definition_with(TAKEN_BY_THE_DETAILED_PATH[name]), max_steps=99)
    assert columns is None


def test_a_definition_the_columns_pass_over_still_validates(more_skills):
    steps = TAKEN_BY_THE_DETAILED_PATH["a condition"]
    validated = definition_validate(definition=definition_with(steps))
    assert validated.step_ids == ["a", "b"]


def test_a_schema_default_is_not_written_into_the_params(catalog):
    inputs = (
        '#\n# [tool.atom.inputs]\n# type = "object"\n#\n'
        '# [tool.atom.inputs.properties.top]\n# type = "integer"\n# default = 5\n'
    )
    skills_add(skill_text("with-default", inputs=inputs))
    definition = definition_with([{"id": "a", "skill": "with-default", "params": {}}])
    validated = definition_validate(definition=definition)
    assert validated.definition.as_dict()["steps"][0]["params"] == {}
    detailed, errors = _validate_in_detail(definition, 10, None)
    assert errors == []
    assert detailed.definition.as_dict()["steps"][0]["params"] == {}
