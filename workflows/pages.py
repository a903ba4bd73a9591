"""What the live run page shows, read once: the run, its steps and its DAG drawn with the
admin's drawing (`workflows.drawing.dag_svg`), each step's box ready to be coloured by status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from workflows.dag import graph_build
from workflows.definitions import definition_parse
from workflows.drawing import dag_svg
from workflows.models import RUN_FINISHED, RunStatus, StepRun, WorkflowRun


@dataclass(frozen=True)
class RunPage:
    run: WorkflowRun
    steps: list[StepRun]
    svg: str
    may_change: bool  # cancel and retry, as the API's endpoints allow them
    is_finished: bool
    is_retryable: bool


def run_page_read(*, run: WorkflowRun, user: Any) -> RunPage:
    steps = list(run.steps.select_related("skill").order_by("index"))
    return RunPage(
        run=run,
        steps=steps,
        svg=run_dag_svg(definition=run.version.definition),
        may_change=run.requested_by_id == user.pk or user.is_staff,
        is_finished=run.status in RUN_FINISHED,
        is_retryable=run.status in (RunStatus.FAILED, RunStatus.CANCELLED),
    )


def run_dag_svg(*, definition: dict[str, Any]) -> str:
    """The version's DAG as the admin's workflow page draws it, labelled with each step's skill
    (a saved version is valid: no catalog check is needed to draw it)."""
    parsed, _ = definition_parse(definition, max_steps=settings.ATOM_WORKFLOW_MAX_STEPS)
    steps = parsed.steps if parsed is not None else []
    graph, _ = graph_build(
        ids=[step.id for step in steps],
        depends_on=[step.depends_on for step in steps],
        indexes=[step.index for step in steps],
    )
    return dag_svg(graph=graph, labels=[step.skill for step in steps], critical_path=[])
