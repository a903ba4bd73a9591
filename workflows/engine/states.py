"""Every state change of runs and steps: each one a conditional UPDATE (so two workers never
both make it), written first and then announced (`progress.announce`, after the commit).

The exactly-once release: a step that succeeds (or is skipped by its condition) decrements each
dependent's `remaining_dependencies` with F(), in the same transaction as its own change, and
then one UPDATE moves the dependents that are pending with nothing left to wait for to queued,
returning the rows it moved. When several parents finish at once on different workers, each
decrement is applied to the latest row (PostgreSQL re-reads a row it waited for; SQLite runs one
writer at a time), so only one of them sees a dependent at zero, and the move from pending
decides anyway: a row moves once.
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from atom_site.transactions import commit_without_waiting_for_the_flush
from perf.recording import record_sample
from skills.runs.calls import skill_run_count_add
from workflows.engine.progress import announce, run_entry, run_events_record, step_entry
from workflows.engine.shape import RunShape
from workflows.models import RunStatus, StepRun, StepStatus, WorkflowRun
from workflows.operations import WORKFLOW_RUN

UNFINISHED_STEPS = (StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING)
ACTIVE_RUN = (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class Released:
    """A step moved to queued by a release: the worker runs one inline, enqueues the rest."""

    pk: int
    step_id: str
    timeout_seconds: float
    attempt: int = 0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _on_commit_announce(event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: announce(event))


CLAIMED_FIELDS = (
    "id",
    "run_id",
    "step_id",
    "skill_version_id",
    "status",
    "attempt",
    "max_attempts",
    "timeout_seconds",
    "queued_at",
    "started_at",
)


def step_claim(*, step_pk: int, now: datetime.datetime) -> StepRun | None:
    """queued → running, one more attempt, heartbeat now; the step as claimed for the one caller
    that took it, else None. A task delivered twice (django-q2 re-delivers a dead worker's task)
    finds it taken. One `UPDATE … RETURNING`: the claim and the read in one round trip."""
    with transaction.atomic():
        step = _claim("%s", [step_pk], now)
        if step is not None:
            run_events_record(step.run_id, [_running_entry(step)])
    return step


def _running_entry(step: StepRun):
    return step_entry(step.step_id, StepStatus.RUNNING, step.attempt)


def step_claim_next(*, run_id: int, now: datetime.datetime) -> StepRun | None:
    """Claim a queued step of the run (the first by position) as `step_claim` does: a worker
    left with nothing released takes work its run already has ready instead of going back to
    the queue, and the task enqueued for that step then finds it taken. None when none is."""
    quote = connection.ops.quote_name
    # PostgreSQL: concurrent workers skip the row another is taking instead of waiting on it.
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    first = (
        f"(SELECT {quote('id')} FROM {quote(StepRun._meta.db_table)} WHERE {quote('run_id')} = %s"
        f" AND {quote('status')} = %s AND {_DUE} ORDER BY {quote('index')} LIMIT 1{lock})"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    for _ in range(3):  # lost the row to another worker (SQLite): try the next one
        with transaction.atomic():
            step = _claim(first, [run_id, StepStatus.QUEUED, stamp], now)
            if step is not None:
                run_events_record(run_id, [_running_entry(step)])
        if step is not None:
            return step
        due = Q(not_before__isnull=True) | Q(not_before__lte=now)
        if not StepRun.objects.filter(due, run_id=run_id, status=StepStatus.QUEUED).exists():
            return None
    return None


# A retry waiting for its delay (`not_before` in the future) is queued but not to be claimed.
_DUE = '("not_before" IS NULL OR "not_before" <= %s)'


def _claim(target: str, target_params: list, now: datetime.datetime) -> StepRun | None:
    quote = connection.ops.quote_name
    stamp = connection.ops.adapt_datetimefield_value(now)
    columns = ", ".join(quote(StepRun._meta.get_field(name).column) for name in CLAIMED_FIELDS)
    sql = (
        f"UPDATE {quote(StepRun._meta.db_table)} SET {quote('status')} = %s, "
        f"{quote('attempt')} = {quote('attempt')} + 1, {quote('started_at')} = %s, "
        f"{quote('heartbeat_at')} = %s, {quote('worker')} = %s "
        f"WHERE {quote('id')} = {target} AND {quote('status')} = %s AND {_DUE} RETURNING {columns}"
    )
    params = [StepStatus.RUNNING, stamp, stamp, worker_name(), *target_params, StepStatus.QUEUED,
              stamp]  # fmt: skip
    # Read to the end, so that the statement (and SQLite's write transaction) is finished.
    taken = list(StepRun.objects.raw(sql, params))
    return taken[0] if taken else None


def run_mark_running(*, run: WorkflowRun, now: datetime.datetime) -> None:
    with transaction.atomic():
        moved = WorkflowRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=now
        )
        if moved:
            run_events_record(run.pk, [run_entry(RunStatus.RUNNING)])
    if moved:
        run.status, run.started_at = RunStatus.RUNNING, now
        announce({"event": "run", "run": run.pk, "status": RunStatus.RUNNING})


def _release(*, run_id: int, dependents: tuple[str, ...], now: datetime.datetime) -> list[Released]:
    if not dependents:
        return []
    quote = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(dependents))
    table, remaining = quote(StepRun._meta.db_table), quote("remaining_dependencies")
    # F("remaining_dependencies") - 1, written out: this runs once per step on the hot path.
    decrement = (
        f"UPDATE {table} SET {remaining} = {remaining} - 1 "
        f"WHERE {quote('run_id')} = %s AND {quote('step_id')} IN ({placeholders})"
    )
    sql = (
        f"UPDATE {quote(StepRun._meta.db_table)} SET {quote('status')} = %s, "
        f"{quote('queued_at')} = %s WHERE {quote('run_id')} = %s AND {quote('status')} = %s "
        f"AND {quote('remaining_dependencies')} = 0 AND {quote('step_id')} IN ({placeholders}) "
        f"RETURNING {quote('id')}, {quote('step_id')}, {quote('timeout_seconds')}, "
        f"{quote('attempt')}"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(decrement, [run_id, *dependents])
        cursor.execute(sql, [StepStatus.QUEUED, stamp, run_id, StepStatus.PENDING, *dependents])
        return [Released(*row) for row in cursor.fetchall()]


def _skill_runs_count(skill_id: int | None) -> None:
    """A call the engine made with `is_counted=False`, counted in the engine's transaction."""
    if skill_id is not None:
        skill_run_count_add(skill_id=skill_id)


@dataclass(slots=True)
class Succeeded:
    released: list[Released]
    # The first released step, already claimed in the same transaction for the worker to go
    # straight into (one commit a step of a chain), or None.
    claimed: StepRun | None = None


def step_succeed(
    *,
    step: StepRun,
    shape: RunShape,
    output: Any,
    output_bytes: int | None,
    params: Any,
    duration_seconds: float | None,
    is_cached: bool = False,
    cache_key: str = "",
    status: str = StepStatus.SUCCEEDED,
    counted_skill_id: int | None = None,
    continue_within: float | None = None,
) -> Succeeded | None:
    """Record a step's success (or its skip by condition) and release its dependents, in one
    transaction; with `continue_within` (seconds the worker has left), also claim the first
    released step whose timeout fits, for the worker to continue into. None when the step was
    no longer ours (cancelled, or reclaimed)."""
    now = timezone.now()
    claimed = None
    with transaction.atomic():
        commit_without_waiting_for_the_flush()
        written = StepRun.objects.filter(
            pk=step.pk, status=StepStatus.RUNNING, attempt=step.attempt
        ).update(
            status=status,
            output=output,
            output_bytes=output_bytes,
            params=params,
            duration_seconds=duration_seconds,
            is_cached=is_cached,
            cache_key=cache_key,
            finished_at=now,
            error_type="",
            error_message="",
            error_traceback="",
        )
        if not written:
            return None
        _skill_runs_count(counted_skill_id)
        released = _release(
            run_id=step.run_id, dependents=shape.steps[step.step_id].dependents, now=now
        )
        if released and continue_within is not None:
            if released[0].timeout_seconds < continue_within:
                claimed = _claim("%s", [released[0].pk], now)
        entries = [
            step_entry(step.step_id, status, step.attempt, duration_seconds=duration_seconds,
                       is_cached=is_cached),
            *(step_entry(item.step_id, StepStatus.QUEUED, item.attempt) for item in released),
        ]  # fmt: skip
        if claimed is not None:
            entries.append(_running_entry(claimed))
        run_events_record(step.run_id, entries)
        _on_commit_announce(
            {
                "event": "step",
                "run": step.run_id,
                "step": step.step_id,
                "status": status,
                "attempt": step.attempt,
                "is_cached": is_cached,
                "released": [item.step_id for item in released],
            }
        )
    return Succeeded(released=released, claimed=claimed)


def step_retry_later(
    *,
    step: StepRun,
    error: dict[str, str],
    params: Any,
    not_before: datetime.datetime,
    counted_skill_id: int | None = None,
) -> bool:
    """A failed attempt to be retried: running → queued, not to be claimed before `not_before`,
    its error kept. The worker is free meanwhile (`workflows.engine.retries` hands the step to
    the queue when it is due). False when the step was no longer ours."""
    with transaction.atomic():
        _skill_runs_count(counted_skill_id)
        moved = StepRun.objects.filter(
            pk=step.pk, status=StepStatus.RUNNING, attempt=step.attempt
        ).update(
            status=StepStatus.QUEUED,
            queued_at=not_before,
            not_before=not_before,
            error_type=error["type"],
            error_message=error["message"],
            error_traceback=error.get("traceback", ""),
            params=params,
        )
        if moved:
            run_events_record(
                step.run_id,
                [step_entry(step.step_id, StepStatus.QUEUED, step.attempt, error=error["type"])],
            )
            _on_commit_announce(
                {"event": "step", "run": step.run_id, "step": step.step_id, "status": "retrying",
                 "attempt": step.attempt, "error": error["type"],
                 "not_before": not_before.isoformat()}
            )  # fmt: skip
    return bool(moved)


def step_fail(
    *,
    step: StepRun,
    shape: RunShape,
    run: WorkflowRun,
    error: dict[str, str],
    params: Any,
    expected_status: str = StepStatus.RUNNING,
    counted_skill_id: int | None = None,
) -> bool:
    """A step failed for good: its downstream steps are skipped, and the run fails at once
    (`on_failure: stop`, the default) or when its other branches are done
    (`finish_branches`). False when the step was no longer ours."""
    now = timezone.now()
    with transaction.atomic():
        _skill_runs_count(counted_skill_id)
        written = StepRun.objects.filter(
            pk=step.pk, status=expected_status, attempt=step.attempt
        ).update(
            status=StepStatus.FAILED,
            error_type=error["type"],
            error_message=error["message"],
            error_traceback=error.get("traceback", ""),
            params=params,
            finished_at=now,
        )
        if not written:
            return False
        downstream = shape.descendants(step.step_id)
        entries = [step_entry(step.step_id, StepStatus.FAILED, step.attempt, error=error["type"])]
        if downstream:
            skipped = StepRun.objects.filter(
                run_id=step.run_id,
                step_id__in=downstream,
                status__in=(StepStatus.PENDING, StepStatus.QUEUED),
            )
            entries += [
                step_entry(step_id, StepStatus.SKIPPED, attempt, error="UpstreamFailed")
                for step_id, attempt in skipped.values_list("step_id", "attempt")
            ]
            skipped.update(
                status=StepStatus.SKIPPED,
                error_type="UpstreamFailed",
                error_message=f"upstream step {step.step_id!r} failed",
                finished_at=now,
            )
        run_events_record(step.run_id, entries)
        _on_commit_announce(
            {"event": "step", "run": step.run_id, "step": step.step_id,
             "status": StepStatus.FAILED, "attempt": step.attempt, "error": error["type"],
             "skipped": downstream}
        )  # fmt: skip
        if run.on_failure == "stop":
            run_end(
                run=run,
                status=RunStatus.FAILED,
                error_type="StepFailed",
                error_message=f"step {step.step_id!r} failed: {error['type']}: {error['message']}",
            )
    if run.on_failure != "stop":
        run_finish_if_done(run=run)
    return True


def run_end(
    *, run: WorkflowRun, status: str, error_type: str = "", error_message: str = ""
) -> bool:
    """An active run → `status`, once. Unless it succeeded, its unfinished steps are cancelled
    (a worker running one sees that within a heartbeat and kills its runner)."""
    now = timezone.now()
    with transaction.atomic():
        ended = WorkflowRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN).update(
            status=status,
            finished_at=now,
            error_type=error_type,
            error_message=error_message[:10_000],
        )
        if not ended:
            return False
        entries = []
        if status != RunStatus.SUCCEEDED:
            unfinished = StepRun.objects.filter(run_id=run.pk, status__in=UNFINISHED_STEPS)
            entries = [
                step_entry(step_id, StepStatus.CANCELLED, attempt)
                for step_id, attempt in unfinished.values_list("step_id", "attempt")
            ]
            unfinished.update(status=StepStatus.CANCELLED, finished_at=now)
        run_events_record(run.pk, [*entries, run_entry(status, error_type)])
        _on_commit_announce({"event": "run", "run": run.pk, "status": status, "error": error_type})
    started = run.started_at or run.created_at
    if started is not None:
        record_sample(
            WORKFLOW_RUN,
            (now - started).total_seconds(),
            ok=status == RunStatus.SUCCEEDED,
            error="" if status == RunStatus.SUCCEEDED else (error_type or status),
            workflow=run.workflow.slug,
            steps=StepRun.objects.filter(run_id=run.pk).count(),
        )
    run.status, run.finished_at = status, now
    return True


def _run_cache_key_fill(run: WorkflowRun) -> None:
    """A cacheable run that started before its environments were built had no key then: it
    gets one now, so the next run with the same inputs reuses it."""
    from workflows.engine.caching import run_cache_key
    from workflows.errors import DefinitionInvalid
    from workflows.validation import definition_validate

    definition = run.version.definition
    if not definition.get("cache"):
        return
    try:
        validated = definition_validate(definition=definition)
    except DefinitionInvalid:
        return
    key = run_cache_key(
        validated=validated, content_hash=run.version.content_hash, inputs=run.inputs
    )
    if key:
        WorkflowRun.objects.filter(pk=run.pk).update(cache_key=key)
        run.cache_key = key


def run_finish_if_done(*, run: WorkflowRun) -> bool:
    """Finish the run when no step is left to run: succeeded, or failed when a step failed.
    Called after a step's change has committed, so the last of two finishing at once sees
    the other's."""
    if StepRun.objects.filter(run_id=run.pk, status__in=UNFINISHED_STEPS).exists():
        return False
    failed = (
        StepRun.objects.filter(run_id=run.pk, status=StepStatus.FAILED)
        .values_list("step_id", flat=True)
        .first()
    )
    if failed is None:
        ended = run_end(run=run, status=RunStatus.SUCCEEDED)
        if ended and not run.cache_key:
            _run_cache_key_fill(run)
        return ended
    return run_end(
        run=run,
        status=RunStatus.FAILED,
        error_type="StepFailed",
        error_message=f"step {failed!r} failed",
    )
