"""Recorded runs: a skill run asked for by a client (API), an admin ("try it") or a notebook.

A run is carried out in-request when it can finish within ``ATOM_RUN_SYNC_TIMEOUT`` and its
environment is ready; otherwise (asked to be queued, a longer timeout, an environment still
to install) it is queued as a django-q2 task after the transaction commits, and followed by
its id. Either way the call itself is `skills.runs.calls.run_plan_call`, given the plan
prepared here.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import router, transaction
from django.db.models import F, Q
from django.utils import timezone

from atom_site.events.record import Subject, event_record, output_streamed
from atom_site.statements import (
    StatementsInFlight,
    can_send_ahead,
    instance_saved,
    row_insert,
    row_update,
    statements_run,
    statements_sent,
)
from skills.installer.backends import InstallError
from skills.installer.builder import (
    environment_ready_copy,
    environment_use_found,
    environment_use_statement,
)
from skills.models import (
    Agent,
    Environment,
    Skill,
    SkillRun,
    SkillRunStatus,
    SkillVersion,
)
from skills.runs.calls import run_plan_call, skill_run_count_statement
from skills.runs.errors import RunError, RunUnavailable, SkillNotRunnable
from skills.runs.plan import RunPlan, run_plan_prepare
from skills.runtime import CallResult, CapturedOutput

# What a run record keeps of each stream (the runner already bounds them to
# ATOM_RUN_MAX_OUTPUT_BYTES; a record is an excerpt, not a log store).
OUTPUT_EXCERPT_CHARS = 65_536
# A run still "running" this long after its timeout lost its worker; a later attempt retakes it.
STALE_MARGIN_SECONDS = 60.0


def skill_run_start(
    *,
    skill: Skill,
    params: Mapping[str, Any] | None = None,
    version: SkillVersion | None = None,
    agent: Agent | None = None,
    user: AbstractBaseUser | None = None,
    timeout: float | None = None,
    queued: bool = False,
    admit: Callable[[], None] | None = None,
) -> SkillRun:
    """Record a run of a skill and carry it out now, or queue it.

    `admit`: the caller's last word, asked once the run is prepared and before anything is
    recorded (the API's rate limit, whose count travels meanwhile); what it raises, this does.

    Raises a `RunError` before anything is recorded: `InvalidParams` (the field at fault),
    `SkillNotRunnable` (no version, or requirements the policy refuses), `RunUnavailable`
    when the interpreter for the skill's language does not run or no Docker engine answers
    to say whether a Docker environment's image is there. A run carried out now that the host
    cannot serve is recorded as failed and `RunUnavailable` is raised. A skill that raises,
    or hits a limit, is a finished run with ``status="failed"`` and its error.
    """
    plan = run_plan_prepare(skill=skill, params=params, version=version, timeout=timeout)
    if admit is not None:
        admit()
    row = {
        "skill": skill,
        "version": plan.version,
        "agent": agent,
        "requested_by": user,
        "params": plan.params,
        "timeout": plan.timeout,
    }
    if not queued and plan.timeout <= settings.ATOM_RUN_SYNC_TIMEOUT:
        # On record as the call starts, should this process die in it: written in the round
        # trip that takes the environment (only if it is ready), or sent ahead of a call started
        # in this process's copy of it; the write need not wait for the disk
        # (atom_site/transactions): only a crash of the database server loses it.
        run = SkillRun(
            **row,
            is_queued=False,
            status=SkillRunStatus.RUNNING,
            started_at=timezone.now(),
            attempts=1,
        )
        ready = _ready_copy(plan)
        if ready is not None:
            recorded = statements_sent([row_insert(run)], is_flush_awaited=False)
            return _carry_out(run, replace(plan, environment=ready), recorded=recorded)
        plan = plan.with_ready_environment(recording=run)
        if plan.is_ready:
            return _carry_out(run, plan)
    run = SkillRun(**row, is_queued=True, status=SkillRunStatus.QUEUED, attempts=0)
    with transaction.atomic():
        run.save(force_insert=True)
        _event_record(run, SkillRunStatus.QUEUED)
        transaction.on_commit(lambda: skill_run_enqueue(run_pk=run.pk, timeout=plan.timeout))
    return run


def skill_run_enqueue(*, run_pk: int, timeout: float) -> None:
    from django_q.tasks import async_task

    # The worker's own limit covers an install on a miss and the call's timeout, so the
    # cluster never kills a run the runtime would still let finish.
    worker_timeout = math.ceil(timeout + settings.ATOM_INSTALL_TIMEOUT + STALE_MARGIN_SECONDS)
    async_task("skills.runs.tasks.run_skill_task", run_pk, group="runs", timeout=worker_timeout)


def skill_run_execute(*, run_pk: int) -> SkillRun:
    """Carry out a queued run (idempotent: a run already taken or finished is left alone)."""
    if not _take(run_pk):
        return SkillRun.objects.get(pk=run_pk)
    run = SkillRun.objects.select_related("skill", "version", "agent").get(pk=run_pk)
    try:
        plan = run_plan_prepare(
            skill=run.skill, params=run.params, version=run.version, timeout=run.timeout
        )
    except RunError as refused:  # the policy, or this host, changed since it was queued
        _finish_unrun(run, refused)
        return run
    try:
        return _carry_out(run, plan)
    except RunUnavailable:
        return SkillRun.objects.get(pk=run_pk)


def _take(run_pk: int) -> bool:
    """Move a queued run, or one whose worker died long ago, to running; True if we did."""
    now = timezone.now()
    run = SkillRun.objects.filter(pk=run_pk).only("status", "started_at", "timeout").first()
    if run is None or run.is_finished:
        return False
    condition = Q(status=SkillRunStatus.QUEUED)
    if run.status == SkillRunStatus.RUNNING:
        stale_after = run.timeout + settings.ATOM_INSTALL_TIMEOUT + STALE_MARGIN_SECONDS
        if run.started_at is None or now - run.started_at < datetime.timedelta(seconds=stale_after):
            return False
        condition = Q(status=SkillRunStatus.RUNNING, started_at=run.started_at)
    with transaction.atomic():
        taken = SkillRun.objects.filter(condition, pk=run_pk).update(
            status=SkillRunStatus.RUNNING, started_at=now, attempts=F("attempts") + 1
        )
        if taken:
            _event_record(run, SkillRunStatus.RUNNING)
    return bool(taken)


def _event_record(run: SkillRun, status: str, error: str = "") -> None:
    """A queued run's live event (atom_site/events), in the transaction of its change."""
    event_record(Subject("skill_run", run.pk), "skill_run", status=status, error=error)


def _ready_copy(plan: RunPlan) -> Environment | None:
    """The environment a synchronous call may start in at once, its row sent ahead and the
    environment's use written with its result (no round trip before the call, on PostgreSQL):
    this process's copy of it, when it took it ready lately (see `environment_ready_copy`)."""
    if not can_send_ahead(using=router.db_for_write(SkillRun)):
        return None
    return environment_ready_copy(key=plan.spec.key)


def _carry_out(
    run: SkillRun, plan: RunPlan, *, recorded: StatementsInFlight | None = None
) -> SkillRun:
    """Make the call and record its outcome. `recorded`: the run's row, sent ahead of the
    call and written while it is made, its answer read before anything else is written; the
    environment's use is then written with the result (the call started in a copy of it)."""
    used = plan.environment if recorded is not None else None
    try:
        if run.is_queued:  # followed live: what it prints is its log
            with output_streamed(Subject("skill_run", run.pk)):
                result = run_plan_call(plan, agent=run.agent, is_counted=False)
        else:
            result = run_plan_call(plan, agent=run.agent, is_counted=False)
    except (SkillNotRunnable, InstallError) as error:
        _recorded_awaited(run, recorded)
        _finish_unrun(run, error)
        return run
    except Exception as error:
        # RunUnavailable (the caller answers 503) or a bug of ours: recorded, then raised.
        _recorded_awaited(run, recorded)
        _finish_unrun(run, error)
        raise
    _recorded_awaited(run, recorded)
    _run_update(run, is_counted=True, used=used, **_result_fields(result))
    return run


def _recorded_awaited(run: SkillRun, recorded: StatementsInFlight | None) -> None:
    """The run's row sent ahead is written: the run becomes saved."""
    if recorded is None:
        return
    [[(pk,)]] = recorded.result()
    instance_saved(run, pk=pk, using=recorded.connection.alias)


def _run_update(
    run: SkillRun, *, is_counted: bool = False, used: Environment | None = None, **fields: Any
) -> None:
    """Write the fields and keep them on `run`, so callers answer it without reading it back;
    a queued run's new status is its live event too. `is_counted`: the call was made, and the
    skill's `run_count` grows in the same commit, which need not wait for the disk (a counter,
    and a result the client already has or the reaper recovers). `used`: the environment the
    call started in from this process's copy, whose use is written in the same trip; then
    the trip is sent ahead (atom_site.statements.statements_sent): on record before the
    response leaves, while it is rendered."""
    statements = [row_update(SkillRun, run.pk, fields)]
    if is_counted:
        statements.insert(0, skill_run_count_statement(skill_id=run.skill_id))
    if used is not None:
        statements.append(environment_use_statement(used))
    if used is not None:  # sent ahead: read before the answer leaves, or the next use
        statements_sent(
            statements,
            is_flush_awaited=not is_counted,
            on_result=lambda found: environment_use_found(used, still_ready=bool(found[-1])),
        )
    elif run.is_queued and "status" in fields:  # a run carried out in its request has no follower
        with transaction.atomic():
            statements_run(statements, is_flush_awaited=not is_counted)
            _event_record(run, fields["status"], fields.get("error_type", ""))
    else:
        statements_run(statements, is_flush_awaited=not is_counted)
    for name, value in fields.items():
        setattr(run, name, value)


def _finish_unrun(run: SkillRun, error: Exception) -> None:
    _run_update(
        run,
        status=SkillRunStatus.FAILED,
        error_type=error.cause if isinstance(error, RunUnavailable) else type(error).__name__,
        error_message=getattr(error, "message", None) or str(error),
        error_stage="host",
        finished_at=timezone.now(),
    )


def _result_fields(result: CallResult) -> dict[str, Any]:
    error = result.error
    return {
        "status": SkillRunStatus.SUCCEEDED if result.ok else SkillRunStatus.FAILED,
        "result": result.result if result.ok else None,
        "error_type": error.type if error else "",
        "error_message": error.message if error else "",
        "error_traceback": error.traceback if error else "",
        "error_stage": error.stage if error else "",
        "stdout": output_excerpt(result.stdout),
        "stdout_bytes": result.stdout.total_bytes,
        "stderr": output_excerpt(result.stderr),
        "stderr_bytes": result.stderr.total_bytes,
        "cache": result.cache or "",
        "load_seconds": result.load_seconds,
        "duration_seconds": result.duration_seconds,
        "wall_seconds": result.wall_seconds,
        "peak_rss_kb": result.peak_rss_kb,
        "cpu_seconds": result.cpu_seconds,
        "finished_at": timezone.now(),
    }


def output_excerpt(output: CapturedOutput) -> str:
    if len(output.text) <= OUTPUT_EXCERPT_CHARS:
        return output.text
    return (
        output.text[:OUTPUT_EXCERPT_CHARS]
        + f"\n[atom: excerpt of {output.total_bytes} bytes printed]"
    )
