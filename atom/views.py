"""What a notebook shows for a skill, an environment and a workflow: plain facts read once on
the ORM thread, displayed by `_repr_html_` (atom.displays) without touching the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from atom.configure import in_orm_thread_ready
from atom.lookup import skill_find, workflow_find
from skills.installer.jobs import skill_version_spec
from skills.marketplace.install_cost import InstallCost, cost_subject_of, install_costs
from skills.models import Environment
from workflows.analysis import Analysis, workflow_analyze
from workflows.builder import Workflow as WorkflowBuilder
from workflows.drawing import dag_svg
from workflows.validation import definition_validate


@dataclass(frozen=True)
class SkillView:
    slug: str
    description: str
    category: str
    type: str
    language: str
    status: str
    version: str | None
    requirements: list[str]
    inputs_schema: dict[str, Any] | None
    tags: list[str]
    install_count: int
    run_count: int
    cost: InstallCost | None

    def __repr__(self) -> str:
        return f"<SkillView {self.slug} {self.version} ({self.status})>"

    def _repr_html_(self) -> str:
        from atom.displays import skill_html

        return skill_html(self)


@in_orm_thread_ready
def skill(slug: str) -> SkillView:
    """A skill's card: what it does, its inputs, its packages, what installing it costs here."""
    found = skill_find(slug)
    version = found.current_version
    cost = install_costs([cost_subject_of(found)]).get(found.slug)
    return SkillView(
        slug=found.slug,
        description=found.description,
        category=found.category,
        type=found.type,
        language=found.language,
        status=found.status,
        version=version.version if version else None,
        requirements=list(version.requirements) if version else [],
        inputs_schema=version.inputs_schema if version else None,
        tags=list(found.tags),
        install_count=found.install_count,
        run_count=found.run_count,
        cost=cost,
    )


@dataclass(frozen=True)
class EnvironmentView:
    key: str
    status: str
    language: str
    backend: str
    interpreter: str
    requirements: list[str]
    pins: list[str]
    location: str
    size_bytes: int | None
    build_seconds: float | None
    use_count: int
    error: str
    ready_at: datetime | None
    last_used_at: datetime | None
    skills: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<EnvironmentView {self.key[:12]} ({self.status})>"

    def _repr_html_(self) -> str:
        from atom.displays import environment_html

        return environment_html(self)


@in_orm_thread_ready
def environment(skill_or_key: str) -> EnvironmentView:
    """An environment by key, or the environment of a skill's current version."""
    found = Environment.objects.filter(key=skill_or_key).first()
    if found is None:
        owner = skill_find(skill_or_key)
        if owner.current_version is None:
            raise LookupError(f"skill {skill_or_key!r} has no version, so no environment")
        owner.current_version.skill = owner
        key = skill_version_spec(owner.current_version).key
        found = Environment.objects.filter(key=key).first()
        if found is None:
            raise LookupError(
                f"{skill_or_key}'s environment {key[:12]} is not built here: "
                f"atom.install({skill_or_key!r}) builds it"
            )
    users = sorted(
        set(found.jobs.values_list("skills__slug", flat=True).exclude(skills__slug=None))
    )
    pins = [
        line.split(" ")[0].strip()
        for line in found.lockfile.splitlines()
        if line.strip() and not line.startswith((" ", "#", "-"))
    ]
    return EnvironmentView(
        key=found.key,
        status=found.status,
        language=found.language,
        backend=found.backend,
        interpreter=found.interpreter,
        requirements=list(found.requirements),
        pins=pins,
        location=found.location,
        size_bytes=found.size_bytes,
        build_seconds=found.build_seconds,
        use_count=found.use_count,
        error=found.error,
        ready_at=found.ready_at,
        last_used_at=found.last_used_at,
        skills=users,
    )


@dataclass(frozen=True)
class WorkflowView:
    name: str
    slug: str
    version: str
    step_count: int
    analysis: Analysis
    svg: str

    def __repr__(self) -> str:
        return f"<WorkflowView {self.slug} {self.version}: {self.step_count} steps>"

    @property
    def critical_path(self) -> list[str]:
        return self.analysis.critical_path

    @property
    def estimate(self) -> dict[str, Any]:
        return self.analysis.estimate

    def _repr_html_(self) -> str:
        from atom.displays import workflow_html

        return workflow_html(self)


@in_orm_thread_ready
def workflow(workflow: str | WorkflowBuilder) -> WorkflowView:
    """A stored workflow (its slug) or a built one: its DAG drawn, critical path and estimate.
    A definition that does not validate raises `DefinitionInvalid` listing every error."""
    if isinstance(workflow, WorkflowBuilder):
        definition = workflow.definition()
        slug = workflow.slug or ""
    else:
        stored = workflow_find(workflow)
        if stored.current_version is None:
            raise LookupError(f"workflow {workflow!r} has no version")
        definition = stored.current_version.definition
        slug = stored.slug
    validated = definition_validate(definition=definition)
    analysis = workflow_analyze(validated=validated)
    labels = [facts.slug if facts else "" for facts in validated.skills]
    return WorkflowView(
        name=validated.definition.name,
        slug=slug or validated.definition.slug,
        version=validated.definition.version,
        step_count=len(validated.graph.ids),
        analysis=analysis,
        svg=dag_svg(graph=validated.graph, labels=labels, critical_path=analysis.critical_path),
    )
