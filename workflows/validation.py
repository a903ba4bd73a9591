"""Validate a workflow definition against itself and the catalog, reporting every error at once.

`definition_validate` is the one function the API, the admin, the YAML import, the command and
the notebook builder call. It reads the definition (`workflows.definitions`), checks the graph
(`workflows.dag`), looks every skill up in one query (two when versions are pinned), checks the
references and the literal params against each skill version's inputs schema, and returns a
`ValidatedWorkflow`: the facts the analysis (and, later, a run) starts from, so nothing below
looks the same rows up again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import fastjsonschema
from django.conf import settings

from perf.recording import measure_performance
from skills.models import SkillStatus
from workflows.catalog import (
    Catalog,
    SkillFacts,
    SkillRow,
    catalog_read,
    fast_validator,
    schema_text,
    validator,
)
from workflows.columns import columns_validate
from workflows.dag import Graph, graph_build
from workflows.definitions import Definition, StepSpec, definition_parse
from workflows.errors import DefinitionError, DefinitionInvalid
from workflows.operations import WORKFLOW_VALIDATION

__all__ = ["SkillFacts", "ValidatedWorkflow", "definition_errors", "definition_validate"]


@dataclass(slots=True)
class ValidatedWorkflow:
    definition: Definition
    graph: Graph
    skills: list[SkillFacts | None]  # by position in `definition.steps`; None: not found

    @property
    def steps(self) -> list[StepSpec]:
        return self.definition.steps

    @property
    def step_ids(self) -> list[str]:
        return self.graph.ids


def definition_validate(*, definition: Any) -> ValidatedWorkflow:
    """The definition checked, or `DefinitionInvalid` listing every error (recorded as a
    `workflow_validation` sample either way)."""
    with measure_performance(WORKFLOW_VALIDATION) as measurement, _collector_paused():
        result, errors = _validate(definition)
        if result is not None:
            measurement.context["workflow"] = result.definition.slug
            measurement.context["steps"] = len(result.graph.ids)
        if errors:
            raise DefinitionInvalid(errors)  # recorded as failed, with this error's name
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Validation allocates tens of thousands of objects that all stay alive until it ends;
    the cyclic collector would walk them again and again for nothing (half the time of a
    10,000-step validation, measured). Reference counting still frees everything at once."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def definition_errors(*, definition: Any) -> list[DefinitionError]:
    """Every error of a definition (empty when it is valid), without raising."""
    try:
        definition_validate(definition=definition)
    except DefinitionInvalid as invalid:
        return invalid.errors
    return []


def _validate(raw: Any) -> tuple[ValidatedWorkflow | None, list[DefinitionError]]:
    """The columnar path first: it reads a well-formed definition with no object per step and
    says only "valid". Anything unusual or wrong takes the detailed path, which names every
    error (reusing the catalog rows the columnar path read, if it got that far)."""
    max_steps = settings.ATOM_WORKFLOW_MAX_STEPS
    columns, catalog = columns_validate(raw, max_steps=max_steps)
    if columns is not None:
        definition, graph, skills = columns
        return ValidatedWorkflow(definition=definition, graph=graph, skills=skills), []
    return _validate_in_detail(raw, max_steps, catalog)


def _validate_in_detail(
    raw: Any, max_steps: int, catalog: Catalog | None
) -> tuple[ValidatedWorkflow | None, list[DefinitionError]]:
    definition, errors = definition_parse(raw, max_steps=max_steps)
    if definition is None:
        return None, errors

    steps: list[StepSpec] = []
    seen: dict[str, int] = {}
    for step in definition.steps:
        first = seen.get(step.id)
        if first is not None:
            message = f"duplicate step id (first used by steps[{first}])"
            errors.append(DefinitionError("duplicate_id", "id", message, step.id, step.index))
            continue
        seen[step.id] = step.index
        steps.append(step)
    definition.step_specs = steps

    graph, graph_errors = graph_build(
        ids=[step.id for step in steps],
        depends_on=[step.depends_on for step in steps],
        indexes=[step.index for step in steps],
    )
    errors.extend(graph_errors)
    _refs_check(definition, graph, errors)
    skills = _skills_check(steps, errors, catalog)
    _params_check(steps, skills, errors)
    _timeouts_check(steps, skills, errors)
    errors.sort(key=lambda error: -1 if error.index is None else error.index)
    return ValidatedWorkflow(definition=definition, graph=graph, skills=skills), errors


def _refs_check(definition: Definition, graph: Graph, errors: list[DefinitionError]) -> None:
    inputs = definition.input_names
    position = {step_id: i for i, step_id in enumerate(graph.ids)}
    for i, step in enumerate(definition.steps):
        for ref in step.refs:
            if ref.kind == "inputs":
                if ref.target not in inputs:
                    declared = ", ".join(sorted(inputs)) or "none"
                    message = (
                        f"{ref.path!r}: the workflow declares no input {ref.target!r} "
                        f"(declared: {declared})"
                    )
                    errors.append(
                        DefinitionError("unknown_input", ref.location, message, step.id, step.index)
                    )
                continue
            target = position.get(ref.target)
            if target is None:
                message = f"{ref.path!r}: no step {ref.target!r} in this workflow"
                errors.append(
                    DefinitionError("unknown_ref_step", ref.location, message, step.id, step.index)
                )
            elif not graph.is_upstream(target, i):
                message = (
                    f"{ref.path!r}: step {ref.target!r} is not upstream of {step.id!r} "
                    "(add it to depends_on, directly or through another step)"
                )
                errors.append(
                    DefinitionError("ref_not_upstream", ref.location, message, step.id, step.index)
                )


def _skills_check(
    steps: list[StepSpec], errors: list[DefinitionError], catalog: Catalog | None
) -> list[SkillFacts | None]:
    """One query for the skills and their current versions, one more for pinned versions (none
    when the columnar path already read them)."""
    if catalog is None:
        catalog = catalog_read(
            slugs={step.skill for step in steps if step.skill},
            pins={(step.skill, step.version) for step in steps if step.version},
        )
    facts: list[SkillFacts | None] = []
    # Each (skill, pin) is judged once; a 10,000-step workflow uses a handful of skills.
    judged: dict[tuple[str, str | None], tuple[SkillFacts | None, list[tuple[str, str, str]]]] = {}
    for step in steps:
        key = (step.skill, step.version)
        verdict = judged.get(key)
        if verdict is None:
            skill = catalog.skills.get(step.skill)
            verdict = judged[key] = _skill_judge(step, skill, catalog.pinned)
        fact, problems = verdict
        for code, field_name, message in problems:
            errors.append(DefinitionError(code, field_name, message, step.id, step.index))
        facts.append(fact)
    return facts


def _skill_judge(
    step: StepSpec, skill: SkillRow | None, pinned: dict[tuple[str, str], SkillFacts]
) -> tuple[SkillFacts | None, list[tuple[str, str, str]]]:
    """The facts of the skill version a step asks for, and the problems with it."""
    problems: list[tuple[str, str, str]] = []
    if skill is None:
        if step.skill:
            problems.append(("unknown_skill", "skill", f"no skill {step.skill!r} in the catalog"))
        return None, problems
    if skill.status == SkillStatus.DEPRECATED:
        problems.append(("skill_deprecated", "skill", f"skill {step.skill!r} is deprecated"))
    elif skill.status != SkillStatus.APPROVED:
        message = f"skill {step.skill!r} is not approved (status: {skill.status})"
        problems.append(("skill_not_approved", "skill", message))
    if step.version:
        version = pinned.get((step.skill, step.version))
        if version is None:
            message = f"skill {step.skill!r} has no version {step.version!r}"
            problems.append(("unknown_version", "version", message))
    else:
        version = skill.current
        if version is None:
            message = f"skill {step.skill!r} has no version to run"
            problems.append(("unknown_version", "skill", message))
    return version, problems


def _params_check(
    steps: list[StepSpec], skills: list[SkillFacts | None], errors: list[DefinitionError]
) -> None:
    for step, facts in zip(steps, skills, strict=True):
        if facts is None or not facts.inputs_schema or not step.is_json:
            continue
        ref_keys = frozenset(key for _, key in step.masks if key is not None)
        if not step.has_nested_refs:
            fast = fast_validator(facts.content_hash, schema_text(facts), ref_keys)
            if fast is not None:
                try:
                    fast(step.params)
                    continue
                except fastjsonschema.JsonSchemaException:
                    pass  # the careful path names every error
        _params_errors(step, facts, errors)


def _params_errors(step: StepSpec, facts: SkillFacts, errors: list[DefinitionError]) -> None:
    """Every schema error of the literal params; a reference's value is only known at run
    time, so errors at (or under) a reference are not the definition's."""
    ref_paths = [location.split(".")[1:] for location, _ in step.masks]
    checker = validator(facts.content_hash, schema_text(facts))
    for error in checker.iter_errors(step.params):
        path = [str(part) for part in error.absolute_path]
        if any(path[: len(ref)] == ref for ref in ref_paths):
            continue
        if not path and error.validator == "required":
            missing = [name for name in error.validator_value if name not in step.params]
            path = missing[:1]
        if not path and error.validator == "additionalProperties":
            known = (facts.inputs_schema or {}).get("properties", {})
            path = sorted(set(step.params) - set(known))[:1]
        field = ".".join(["params", *path])
        message = f"{error.message} (skill {facts.slug} {facts.version})"
        errors.append(DefinitionError("invalid_params", field, message, step.id, step.index))


def _timeouts_check(
    steps: list[StepSpec], skills: list[SkillFacts | None], errors: list[DefinitionError]
) -> None:
    cap = settings.ATOM_RUN_TIMEOUT_CAP
    for step in steps:
        if step.timeout_seconds is not None and step.timeout_seconds > cap:
            message = f"{step.timeout_seconds:g} s is over the maximum of {cap:g} s"
            errors.append(
                DefinitionError("timeout_too_long", "timeout_seconds", message, step.id, step.index)
            )
