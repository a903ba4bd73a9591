"""The workflows app's one error vocabulary: entry points catch `WorkflowError`."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class DefinitionError:
    """One problem with a definition: the step it belongs to (id, and its position in `steps`),
    the field at fault (`depends_on`, `params.url`, `steps`…), and what is wrong.

    `file` and `line` are filled in when the definition came from a file.
    """

    code: str
    field: str
    message: str
    step: str = ""
    index: int | None = None
    file: str = ""
    line: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        if self.file and not self.line:
            where = f"{self.file}: "
        step = f"step {self.step!r}: " if self.step else ""
        if not self.step and self.index is not None:
            step = f"steps[{self.index}]: "
        return f"{where}{step}{self.field}: {self.message}"

    def where_in_step(self) -> str:
        """The error as listed under its step: the file's line when there is one, the field."""
        line = f"line {self.line}: " if self.line else ""
        return f"{line}{self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class StepErrors:
    """The errors of one step (or of the definition as a whole: `step` and `index` empty)."""

    step: str
    index: int | None
    errors: tuple[DefinitionError, ...]

    @property
    def title(self) -> str:
        if self.index is None and not self.step:
            return "the definition"
        if self.index is None:
            return f"step {self.step!r}"
        return f"step {self.step!r} (steps[{self.index}])" if self.step else f"steps[{self.index}]"


def errors_by_step(errors: list[DefinitionError]) -> list[StepErrors]:
    """The errors grouped per step, the definition's own first, then the steps in their order
    in `steps`; each group keeps its errors in the order they were found."""
    groups: dict[tuple[int, str], list[DefinitionError]] = {}
    for error in errors:
        position = -1 if error.index is None else error.index
        groups.setdefault((position, error.step), []).append(error)
    return [
        StepErrors(step=step, index=None if position < 0 else position, errors=tuple(found))
        for (position, step), found in sorted(groups.items(), key=lambda item: item[0])
    ]


class WorkflowError(Exception):
    """Base of every refusal the workflows app reports; `status` is the HTTP status."""

    status = 400
    code = "workflow_error"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DefinitionInvalid(WorkflowError):
    """A definition with one or more errors: every one of them is in `errors`."""

    status = 422
    code = "definition_invalid"

    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the workflow definition")
        self.errors = errors


class WorkflowSlugTaken(WorkflowError):
    """A new workflow whose slug another workflow already has."""

    status = 409
    code = "slug_taken"


class WorkflowNotFound(WorkflowError):
    status = 404
    code = "not_found"


class RunRefused(WorkflowError):
    """A run that cannot start: the workflow no longer validates against today's catalog (a
    skill deprecated or unapproved since it was saved…), or has no version. Nothing is created.
    `errors` lists every problem, each naming its step and field."""

    status = 409
    code = "run_refused"

    def __init__(self, message: str, errors: list[DefinitionError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class RunInputsInvalid(WorkflowError):
    """The inputs break the workflow's inputs schema; `field` names where (`inputs.url`)."""

    status = 422
    code = "inputs_invalid"


class RunStateConflict(WorkflowError):
    """The run is not in a state that allows this: cancelling a finished run, retrying a run
    that has not failed."""

    status = 409
    code = "run_state"
