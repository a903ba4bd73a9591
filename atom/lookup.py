"""Finding a skill or a workflow by slug, with the closest names when there is none."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from skills.models import Skill
from workflows.models import Workflow, WorkflowRun


def _closest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f"; closest: {', '.join(close)}" if close else ""


def skill_find(slug: str) -> Skill:
    """The skill `slug`, or a LookupError naming it and the closest slugs."""
    skill = Skill.objects.select_related("current_version").filter(slug=slug).first()
    if skill is None:
        slugs = Skill.objects.values_list("slug", flat=True)
        raise LookupError(f"no skill {slug!r}{_closest(slug, slugs)}")
    return skill


def workflow_find(slug: str) -> Workflow:
    """The workflow `slug`, or a LookupError naming it and the closest slugs."""
    workflow = Workflow.objects.select_related("current_version").filter(slug=slug).first()
    if workflow is None:
        slugs = Workflow.objects.values_list("slug", flat=True)
        raise LookupError(f"no workflow {slug!r}{_closest(slug, slugs)}")
    return workflow


def run_find(run: int) -> WorkflowRun:
    found = (
        WorkflowRun.objects.select_related("workflow", "version", "requested_by", "agent")
        .filter(pk=int(run))
        .first()
    )
    if found is None:
        raise LookupError(f"no workflow run {run}")
    return found
