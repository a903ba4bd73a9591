"""Recorded runs: a skill run asked for by a client (API), an admin ("try it") or a notebook.

A run is carried out in-request when it can finish within ``ATOM_RUN_SYNC_TIMEOUT`` and its
environment is ready; otherwise (asked to be queued, a longer timeout, an environment still
to install) it is queued as a django-q2 task after the transaction commits, and followed by
its id. Either way the call itself is `skills.running.run_skill`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from skills.installer.backends import InstallError
from skills.installer.keys import InterpreterError
from skills.models import Agent, Skill, SkillRun, SkillRunStatus, SkillVersion
from skills.running import (
    SkillNotRunnable,
    call_limits,
    environment_ready_for,
    params_validate,
    run_skill,
)
from skills.runtime import CallResult, CapturedOutput, PoolBusy, SandboxUnavailable, registry
from skills.runtime.docker import DockerUnavailable

# What a run record keeps of each stream (the runner already bounds them to
# ATOM_RUN_MAX_OUTPUT_BYTES; a record is an excerpt, not a log store).
OUTPUT_EXCERPT_CHARS = 65_536
# A run still "running" this long after its timeout lost its worker; a later attempt retakes it.
STALE_MARGIN_SECONDS = 60.0

# The host could not carry out the call now: try again later (the API answers 503). An
# interpreter that does not run (ATOM_INSTALL_PYTHON, ATOM_NODE_BIN) is the host's to fix too.
RunUnavailable = (PoolBusy, DockerUnavailable, SandboxUnavailable, InterpreterError)


def skill_run_start(
    *,
    skill: Skill,
    params: Mapping[str, Any] | None = None,
    version: SkillVersion | None = None,
    agent: Agent | None = None,
    user: AbstractBaseUser | None = None,
    timeout: float | None = None,
    queued: bool = False,
) -> SkillRun:
    """Record a run of a skill and carry it out now, or queue it.

    Raises before anything is recorded: `InvalidParams` (the field at fault),
    `SkillNotRunnable` (no version, or requirements the policy refuses), `DockerUnavailable`
    when no engine answers to say whether a Docker environment's image is there, and
    `InterpreterError` when the interpreter for the skill's language does not run. A run
    carried out now that the host cannot serve (one of `RunUnavailable`) is recorded as failed
    and the error is raised. A skill that raises, or hits a limit, is
    a finished run with ``status="failed"`` and its error.
    """
    version = version or skill.current_version
    if version is None:
        raise SkillNotRunnable(f"{skill.slug} has no version to run")
    params = params if params is not None else {}
    params_validate(schema=version.inputs_schema, params=params)
    params = dict(params)
    # The timeout as the runtime will enforce it (the version's own, capped), to record and to
    # choose between in-request and queued.
    limit = call_limits(version=version, timeout=timeout).resolved(registry().config).timeout
    is_queued = (
        queued or limit > settings.ATOM_RUN_SYNC_TIMEOUT or environment_ready_for(version) is None
    )
    with transaction.atomic():
        run = SkillRun.objects.create(
            skill=skill,
            version=version,
            agent=agent,
            requested_by=user,
            params=params,
            is_queued=is_queued,
            timeout=limit,
            status=SkillRunStatus.QUEUED if is_queued else SkillRunStatus.RUNNING,
            started_at=None if is_queued else timezone.now(),
            attempts=0 if is_queued else 1,
        )
        if is_queued:
            transaction.on_commit(lambda: skill_run_enqueue(run_pk=run.pk, timeout=limit))
    if is_queued:
        return run
    return _carry_out(run)


def skill_run_enqueue(*, run_pk: int, timeout: float) -> None:
    from django_q.tasks import async_task

    # The worker's own limit covers an install on a miss and the call's timeout, so the
    # cluster never kills a run the runtime would still let finish.
    worker_timeout = math.ceil(timeout + settings.ATOM_INSTALL_TIMEOUT + STALE_MARGIN_SECONDS)
    async_task("skills.tasks.run_skill_task", run_pk, group="runs", timeout=worker_timeout)


def skill_run_execute(*, run_pk: int) -> SkillRun:
    """Carry out a queued run (idempotent: a run already taken or finished is left alone)."""
    if not _take(run_pk):
        return SkillRun.objects.get(pk=run_pk)
    run = SkillRun.objects.select_related("skill", "version", "agent").get(pk=run_pk)
    try:
        return _carry_out(run)
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
    taken = SkillRun.objects.filter(condition, pk=run_pk).update(
        status=SkillRunStatus.RUNNING, started_at=now, attempts=F("attempts") + 1
    )
    return bool(taken)


def _carry_out(run: SkillRun) -> SkillRun:
    try:
        result = run_skill(
            run.skill, run.params, timeout=run.timeout, agent=run.agent, version=run.version
        )
    except (SkillNotRunnable, InstallError) as error:
        _finish_unrun(run, error)
        return run
    except Exception as error:
        # RunUnavailable (the caller answers 503) or a bug of ours: recorded, then raised.
        _finish_unrun(run, error)
        raise
    _run_update(run, **_result_fields(result))
    return run


def _run_update(run: SkillRun, **fields: Any) -> None:
    """Write the fields and keep them on `run`, so callers answer it without reading it back."""
    SkillRun.objects.filter(pk=run.pk).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)


def _finish_unrun(run: SkillRun, error: Exception) -> None:
    _run_update(
        run,
        status=SkillRunStatus.FAILED,
        error_type=type(error).__name__,
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
        "finished_at": timezone.now(),
    }


def output_excerpt(output: CapturedOutput) -> str:
    if len(output.text) <= OUTPUT_EXCERPT_CHARS:
        return output.text
    return (
        output.text[:OUTPUT_EXCERPT_CHARS]
        + f"\n[atom: excerpt of {output.total_bytes} bytes printed]"
    )


def params_example(version: SkillVersion | None) -> dict[str, Any]:
    """Params to start from (the admin's "try it" form is prefilled with them): the skill's
    first example input, else its inputs schema's first example, else each property's
    example or default."""
    if version is None:
        return {}
    examples = (version.metadata or {}).get("examples") or []
    if examples and isinstance(examples[0].get("input"), dict):
        return dict(examples[0]["input"])
    schema = version.inputs_schema or {}
    schema_examples = schema.get("examples")
    if (
        isinstance(schema_examples, list)
        and schema_examples
        and isinstance(schema_examples[0], dict)
    ):
        return dict(schema_examples[0])
    params = {}
    for name, field in (schema.get("properties") or {}).items():
        if not isinstance(field, Mapping):
            continue
        if isinstance(field.get("examples"), list) and field["examples"]:
            params[name] = field["examples"][0]
        elif "default" in field:
            params[name] = field["default"]
    return params
