"""Cancelling a run, and the reaper that keeps no run stuck.

Cancelling writes the run and its unfinished steps as cancelled in one transaction; a worker
running one of them sees it at its next heartbeat and kills the runner's process group (at once
when the cancel happens in the worker's own process).

The reaper (`runs_reap`, a django-q2 schedule every minute; `workflows.schedules`) reclaims
steps whose worker died: a running step whose heartbeat stopped `ATOM_STEP_STALE_SECONDS` ago,
or that has run past its timeout plus the install timeout plus that grace, goes back to queued
for another attempt (or fails when it has none left); a queued step waiting longer than
`ATOM_STEP_REQUEUE_SECONDS` gets a fresh task (a worker that released it may have died before
running it; a second task is harmless: the claim decides); a run past its `timeout_seconds`
fails, its unfinished steps cancelled (killed).
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from skills.runtime import call_interrupt
from workflows.engine.progress import run_events_record, step_entry
from workflows.engine.shape import shape_for
from workflows.engine.start import steps_enqueue
from workflows.engine.states import ACTIVE_RUN, run_end, step_fail
from workflows.errors import RunStateConflict
from workflows.models import RunStatus, StepRun, StepStatus, WorkflowRun


def run_cancel(*, run: WorkflowRun) -> WorkflowRun:
    """Cancel an active run: pending and queued steps are cancelled, running ones killed.
    `RunStateConflict` (409) for a run already finished."""
    running = list(
        StepRun.objects.filter(run_id=run.pk, status=StepStatus.RUNNING).values_list(
            "pk", "attempt"
        )
    )
    if not run_end(
        run=run, status=RunStatus.CANCELLED, error_type="Cancelled", error_message="cancelled"
    ):
        status = WorkflowRun.objects.values_list("status", flat=True).get(pk=run.pk)
        raise RunStateConflict(f"run {run.pk} is already {status}: nothing to cancel")
    for pk, attempt in running:  # served by this process: killed now; else by its heartbeat
        call_interrupt(f"step-{pk}-{attempt}")
    run.refresh_from_db()
    return run


@dataclass
class ReapReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    reenqueued: list[int] = field(default_factory=list)
    runs_timed_out: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return asdict(self)


def runs_reap(*, now: datetime.datetime | None = None) -> ReapReport:
    now = now or timezone.now()
    report = ReapReport()
    grace = datetime.timedelta(seconds=settings.ATOM_STEP_STALE_SECONDS)
    stale = StepRun.objects.filter(status=StepStatus.RUNNING).filter(
        Q(heartbeat_at__lt=now - grace) | Q(heartbeat_at__isnull=True)
    )
    install = settings.ATOM_INSTALL_TIMEOUT
    overdue = [
        step
        for step in StepRun.objects.filter(status=StepStatus.RUNNING).only(
            "pk", "started_at", "timeout_seconds"
        )
        if step.started_at is not None
        and now - step.started_at
        > datetime.timedelta(seconds=step.timeout_seconds + install) + grace
    ]
    candidates = {step.pk for step in stale.only("pk")} | {step.pk for step in overdue}
    for step in StepRun.objects.filter(pk__in=candidates).select_related("run", "run__workflow"):
        _step_reclaim(step, now, report)

    waited = datetime.timedelta(seconds=settings.ATOM_STEP_REQUEUE_SECONDS)
    waiting = list(
        StepRun.objects.filter(
            status=StepStatus.QUEUED, queued_at__lt=now - waited, run__status__in=ACTIVE_RUN
        ).values_list("pk", "timeout_seconds")
    )
    if waiting:
        StepRun.objects.filter(pk__in=[pk for pk, _ in waiting], status=StepStatus.QUEUED).update(
            queued_at=now
        )
        steps_enqueue(waiting)
        report.reenqueued = [pk for pk, _ in waiting]

    for run in WorkflowRun.objects.filter(
        status__in=ACTIVE_RUN, timeout_seconds__isnull=False
    ).select_related("workflow"):
        started = run.started_at or run.created_at
        if now - started > datetime.timedelta(seconds=run.timeout_seconds):
            limit = f"{run.timeout_seconds:g} s"
            if run_end(
                run=run,
                status=RunStatus.FAILED,
                error_type="RunTimeout",
                error_message=f"the run exceeded its limit of {limit}; unfinished steps cancelled",
            ):
                report.runs_timed_out.append(run.pk)
    return report


def _step_reclaim(step: StepRun, now: datetime.datetime, report: ReapReport) -> None:
    worker = step.worker or "its worker"
    if step.attempt < step.max_attempts:
        with transaction.atomic():
            moved = StepRun.objects.filter(
                pk=step.pk, status=StepStatus.RUNNING, attempt=step.attempt
            ).update(
                status=StepStatus.QUEUED,
                queued_at=now,
                error_type="WorkerLost",
                error_message=f"{worker} stopped answering during attempt {step.attempt}",
            )
            if moved:
                run_events_record(
                    step.run_id,
                    [step_entry(step.step_id, StepStatus.QUEUED, step.attempt, error="WorkerLost")],
                )
        if moved:
            steps_enqueue([(step.pk, step.timeout_seconds)])
            report.requeued.append(step.pk)
        return
    error = {
        "type": "WorkerLost",
        "message": f"{worker} stopped answering during attempt {step.attempt}, the last allowed",
    }
    if step_fail(
        step=step,
        shape=shape_for(version_id=step.run.version_id),
        run=step.run,
        error=error,
        params=step.params,
    ):
        report.failed.append(step.pk)
