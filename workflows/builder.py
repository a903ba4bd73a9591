"""Build a workflow in Python (notebooks, scripts), then validate or save it through the same
functions as the API, the admin and the YAML import:

    from workflows.builder import SkillStep, Workflow, ref

    etl = Workflow("etl", inputs={"type": "object", "properties": {"url": {"type": "string"}}},
                   steps=[SkillStep("fetch", "http-get", {"url": ref("inputs.url")}),
                          SkillStep("stats", "csv-column-stats",
                                    {"csv": ref("steps.fetch.output.text")},
                                    depends_on=["fetch"])])
    etl.validate().estimate        # the analysis; DefinitionInvalid lists every error
    etl.save(actor=user)           # a new workflow, a new version, or nothing when unchanged
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from workflows.analysis import Analysis, workflow_analyze
from workflows.definitions import (
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_RETRY_DELAY,
    DEFAULT_VERSION,
    REF,
)
from workflows.services import SaveOutcome, workflow_save
from workflows.validation import definition_validate


def ref(path: str) -> dict[str, str]:
    """A reference to a workflow input or an upstream step's output: `ref("inputs.url")`."""
    return {REF: path}


@dataclass
class SkillStep:
    id: str
    skill: str
    params: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    version: str | None = None
    timeout_seconds: float | None = None
    retries: int = 0
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY
    retry_backoff: float = DEFAULT_RETRY_BACKOFF
    when: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        step: dict[str, Any] = {
            "id": self.id,
            "skill": self.skill,
            "params": self.params,
            "depends_on": list(self.depends_on),
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "retry_backoff": self.retry_backoff,
        }
        for name in ("version", "timeout_seconds", "when"):
            if getattr(self, name) is not None:
                step[name] = getattr(self, name)
        return step


@dataclass
class Workflow:
    name: str
    steps: list[SkillStep] = field(default_factory=list)
    slug: str | None = None
    version: str = DEFAULT_VERSION
    description: str = ""
    inputs: dict[str, Any] | None = None

    def add(self, step: SkillStep) -> SkillStep:
        self.steps.append(step)
        return step

    def definition(self) -> dict[str, Any]:
        definition: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "steps": [step.as_dict() for step in self.steps],
        }
        if self.slug is not None:
            definition["slug"] = self.slug
        if self.inputs is not None:
            definition["inputs"] = self.inputs
        return definition

    def validate(self) -> Analysis:
        """The analysis of a valid definition; raises DefinitionInvalid listing every error."""
        return workflow_analyze(validated=definition_validate(definition=self.definition()))

    def save(self, *, actor: AbstractBaseUser | None = None) -> SaveOutcome:
        return workflow_save(definition=self.definition(), actor=actor)
