"""Why a run could not be carried out: one base class the entry points catch.

Each subclass carries the HTTP status the API answers and, where one input is at fault, the
field that names it. A skill that runs and fails is not an error here: it is a finished run
with ``status="failed"``.
"""

from __future__ import annotations


class RunError(Exception):
    """A run that was refused, or that this host cannot carry out now."""

    status: int = 400

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def detail(self) -> str:
        """The message as a client reads it, with the field it names."""
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidParams(RunError, ValueError):
    """The params do not match the skill's inputs schema (``field`` names where)."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)
        self.args = (f"{field}: {message}",)

    @property
    def params_field(self) -> str:
        """The field as a caller posting ``{"params": ...}`` names it (``params.text``)."""
        return "params" if self.field == "params" else f"params.{self.field}"

    @property
    def detail(self) -> str:
        return f"{self.params_field}: {self.message}"


class SkillNotRunnable(RunError, ValueError):
    """The skill has nothing this host can run: no version, limits over this host's caps, or
    requirements the policy refuses."""

    status = 409


class RunUnavailable(RunError):
    """This host cannot carry out the call now (no free runner, no sandbox, no Docker engine,
    an interpreter that does not run): try again later. ``cause`` names the host's error."""

    status = 503

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.cause = cause

    @classmethod
    def from_host_error(cls, error: Exception) -> RunUnavailable:
        return cls(str(error), cause=type(error).__name__)
