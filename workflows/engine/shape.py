"""What the engine needs to know of a workflow version, read once per process and kept.

A version is immutable, so its parsed steps and the reverse edges (each step's dependents) are
built the first time a worker meets the version and reused for every step of every run of it:
a step never parses its run's definition again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from workflows.definitions import Definition, StepSpec, definition_parse
from workflows.models import WorkflowVersion

SHAPES_KEPT = 256


@dataclass(frozen=True, slots=True)
class StepShape:
    spec: StepSpec
    parents: tuple[str, ...]
    dependents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunShape:
    definition: Definition
    steps: dict[str, StepShape]

    def descendants(self, step_id: str) -> list[str]:
        """Every step downstream of `step_id` (iteratively: a 5,000-deep chain is fine)."""
        seen: set[str] = set()
        stack = list(self.steps[step_id].dependents)
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.steps[current].dependents)
        return sorted(seen, key=lambda name: self.steps[name].spec.index)


def shape_build(definition_raw: Any) -> RunShape:
    definition, errors = definition_parse(definition_raw, max_steps=10**9)
    if definition is None:
        raise ValueError(f"stored definition does not parse: {errors[:3]}")
    dependents: dict[str, list[str]] = {step.id: [] for step in definition.steps}
    parents: dict[str, tuple[str, ...]] = {}
    for step in definition.steps:
        unique = tuple(dict.fromkeys(step.depends_on))
        parents[step.id] = unique
        for parent in unique:
            dependents[parent].append(step.id)
    steps = {
        step.id: StepShape(step, parents[step.id], tuple(dependents[step.id]))
        for step in definition.steps
    }
    return RunShape(definition=definition, steps=steps)


_shapes: OrderedDict[int, RunShape] = OrderedDict()
_lock = threading.Lock()


def shape_for(*, version_id: int, definition: Any = None) -> RunShape:
    """The shape of a stored version (`definition`: its JSON when the caller holds it)."""
    with _lock:
        shape = _shapes.get(version_id)
        if shape is not None:
            _shapes.move_to_end(version_id)
            return shape
    if definition is None:
        definition = WorkflowVersion.objects.values_list("definition", flat=True).get(pk=version_id)
    shape = shape_build(definition)
    with _lock:
        _shapes[version_id] = shape
        while len(_shapes) > SHAPES_KEPT:
            _shapes.popitem(last=False)
    return shape
