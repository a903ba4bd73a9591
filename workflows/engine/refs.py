"""References resolved at run time: `{"$ref": "inputs.url"}`, `{"$ref": "steps.a.output.rows"}`,
`{"$literal": value}` (docs/workflows.md, "References"), and `when` conditions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.definitions import LITERAL, REF, StepSpec


class ReferenceUnresolved(Exception):
    """A reference naming a value the run does not have (an input not given, a key missing
    from an upstream output, a step skipped by its condition)."""


def steps_referenced(spec: StepSpec) -> set[str]:
    """The upstream step ids whose outputs `spec` reads (params and condition)."""
    return {ref.target for ref in spec.refs if ref.kind == "steps"}


def value_at(path: str, *, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
    parts = path.split(".")
    if parts[0] == "inputs":
        if parts[1] not in inputs:
            raise ReferenceUnresolved(f"{path}: the run has no input {parts[1]!r}")
        value, rest, where = inputs[parts[1]], parts[2:], f"inputs.{parts[1]}"
    else:
        if parts[1] not in outputs:
            raise ReferenceUnresolved(f"{path}: step {parts[1]!r} has no output")
        value, rest, where = outputs[parts[1]], parts[3:], f"steps.{parts[1]}.output"
    for part in rest:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            raise ReferenceUnresolved(f"{path}: {where} has no {part!r}")
        where = f"{where}.{part}"
    return value


def params_resolve(
    params: Mapping[str, Any], *, inputs: Mapping[str, Any], outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The params with every reference replaced by its value (iteratively, copying only the
    containers that hold a reference)."""

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and REF in value:
                return value_at(value[REF], inputs=inputs, outputs=outputs)
            if len(value) == 1 and LITERAL in value:
                return value[LITERAL]
            return {key: resolve(child) for key, child in value.items()}
        if isinstance(value, list):
            return [resolve(child) for child in value]
        return value

    return {key: resolve(value) for key, value in params.items()}


def condition_holds(
    when: Mapping[str, Any], *, inputs: Mapping[str, Any], outputs: Mapping[str, Any]
) -> bool:
    """A `when`: the referenced value equals `equals`, or is truthy; a missing value is None."""
    try:
        value = value_at(when[REF], inputs=inputs, outputs=outputs)
    except ReferenceUnresolved:
        value = None
    if "equals" in when:
        return value == when["equals"]
    return bool(value)
