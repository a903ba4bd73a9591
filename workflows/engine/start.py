"""Starting a run (and retrying a failed one): checked first, written in one transaction, its
ready steps enqueued on commit."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from skills.models import Agent
from skills.runs.errors import InvalidParams
from skills.runs.plan import params_validate
from workflows.definitions import json_problem
from workflows.engine.caching import run_cache_key, run_cache_lookup, ttl_of
from workflows.engine.progress import announce, run_entry, run_events_record, step_entry
from workflows.engine.shape import shape_for
from workflows.errors import DefinitionInvalid, RunInputsInvalid, RunRefused, RunStateConflict
from workflows.models import RunStatus, StepRun, StepStatus, Workflow, WorkflowRun, WorkflowVersion
from workflows.validation import definition_validate

STEP_TASK = "workflows.tasks.step_run_task"
# What a step task may spend beyond its step's own timeout: an install on a miss, the engine.
TASK_MARGIN_SECONDS = 60.0


def task_timeout(step_timeout: float) -> int:
    """The worker's limit for a step task: never below the cluster's own, always above what the
    runtime lets the step take (an install on a miss included)."""
    return math.ceil(
        max(
            float(settings.Q_CLUSTER["timeout"]),
            step_timeout + settings.ATOM_INSTALL_TIMEOUT + TASK_MARGIN_SECONDS,
        )
    )


def steps_enqueue(steps: Iterable[tuple[int, float]]) -> None:
    """A django-q2 task for each of the first `ATOM_WORKFLOW_TASKS_PER_BATCH` (step pk, step
    timeout): enough to keep every worker busy. The other steps stay queued: a worker left with
    nothing released takes the run's next queued step itself (`step_claim_next`), so 400 ready
    steps cost a handful of tasks, not 400 trips through the broker (each enqueue is a write,
    and the ORM broker polls). All in one transaction: one commit, whatever the count.

    Successful step tasks are not saved as django-q2 results: the step row is the record."""
    from django_q.conf import Conf
    from django_q.tasks import async_task

    batch = list(steps)[: settings.ATOM_WORKFLOW_TASKS_PER_BATCH]
    # (Synchronous django-q2, in tests and `workflows run --here`, carries each task out inside
    # async_task: not inside a transaction of ours.)
    with contextlib.nullcontext() if Conf.SYNC else transaction.atomic():
        for pk, timeout in batch:
            async_task(STEP_TASK, pk, group="workflows", save=False, timeout=task_timeout(timeout))


def inputs_check(*, schema: Mapping[str, Any], inputs: Any) -> dict[str, Any]:
    """The inputs with the schema's defaults filled in, or `RunInputsInvalid` naming the field."""
    if not isinstance(inputs, Mapping):
        raise RunInputsInvalid("inputs: must be an object", field="inputs")
    problem = json_problem(inputs)
    if problem:
        raise RunInputsInvalid(f"inputs: not JSON: {problem}", field="inputs")
    filled = dict(inputs)
    for name, field in (schema.get("properties") or {}).items():
        if name not in filled and isinstance(field, Mapping) and "default" in field:
            filled[name] = field["default"]
    try:
        params_validate(schema=schema, params=filled)
    except InvalidParams as invalid:
        where = "inputs" if invalid.field == "params" else f"inputs.{invalid.field}"
        raise RunInputsInvalid(f"{where}: {invalid.message}", field=where) from None
    return filled


def run_start(
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    agent: Agent | None = None,
    requested_by: AbstractBaseUser | None = None,
    version: WorkflowVersion | None = None,
) -> WorkflowRun:
    """Start a run of `workflow` (its current version unless `version`) with `inputs`.

    Validates the version against today's catalog (`RunRefused`, a 409, lists every problem: a
    skill deprecated or unapproved since it was saved…) and the inputs against its inputs schema
    (`RunInputsInvalid`, a 422 naming the field); nothing is written then. Otherwise the run and
    one row per step are written in one transaction and the ready steps are enqueued when it
    commits. A cacheable workflow whose key hits returns a finished run at once.
    """
    version = version or workflow.current_version
    if version is None:
        raise RunRefused(f"workflow {workflow.slug!r} has no version to run")
    try:
        validated = definition_validate(definition=version.definition)
    except DefinitionInvalid as invalid:
        listed = "; ".join(str(error) for error in invalid.errors[:5])
        raise RunRefused(
            f"workflow {workflow.slug!r} cannot run now: {listed}", invalid.errors
        ) from None
    definition = validated.definition
    inputs = inputs_check(schema=definition.inputs, inputs=inputs if inputs is not None else {})
    shape_for(version_id=version.pk, definition=version.definition)  # kept for the workers

    cache_key = ""
    if definition.cache:
        cache_key = run_cache_key(
            validated=validated, content_hash=version.content_hash, inputs=inputs
        )
        source = (
            run_cache_lookup(key=cache_key, ttl_seconds=ttl_of(definition.cache_ttl_seconds))
            if cache_key
            else None
        )
        if source is not None:
            return _run_from_cache(
                source=source,
                version=version,
                inputs=inputs,
                agent=agent,
                requested_by=requested_by,
            )

    now = timezone.now()
    cap = settings.ATOM_RUN_TIMEOUT_CAP
    with transaction.atomic():
        run = WorkflowRun.objects.create(
            workflow=workflow,
            version=version,
            inputs=inputs,
            status=RunStatus.QUEUED,
            requested_by=requested_by,
            agent=agent,
            timeout_seconds=definition.timeout_seconds,
            on_failure=definition.on_failure,
            cache_key=cache_key,
        )
        rows = []
        for step, facts in zip(validated.steps, validated.skills, strict=True):
            parents = len(set(step.depends_on))
            rows.append(
                StepRun(
                    run=run,
                    step_id=step.id,
                    index=step.index,
                    skill_id=facts.skill_id,
                    skill_version_id=facts.version_id,
                    status=StepStatus.PENDING if parents else StepStatus.QUEUED,
                    remaining_dependencies=parents,
                    max_attempts=step.retries + 1,
                    timeout_seconds=min(step.timeout_seconds or facts.timeout, cap),
                    queued_at=None if parents else now,
                )
            )
        StepRun.objects.bulk_create(rows, batch_size=500)
        ready = [(row.pk, row.timeout_seconds) for row in rows if not row.remaining_dependencies]
        run_events_record(run.pk, [run_entry(RunStatus.QUEUED)])
        transaction.on_commit(lambda: steps_enqueue(ready))
        transaction.on_commit(
            lambda: announce({"event": "run", "run": run.pk, "status": RunStatus.QUEUED})
        )
    return run


def _run_from_cache(
    *,
    source: WorkflowRun,
    version: WorkflowVersion,
    inputs: dict[str, Any],
    agent: Agent | None,
    requested_by: AbstractBaseUser | None,
) -> WorkflowRun:
    now = timezone.now()
    with transaction.atomic():
        run = WorkflowRun.objects.create(
            workflow_id=source.workflow_id,
            version=version,
            inputs=inputs,
            status=RunStatus.SUCCEEDED,
            requested_by=requested_by,
            agent=agent,
            timeout_seconds=source.timeout_seconds,
            on_failure=source.on_failure,
            cache_key=source.cache_key,
            is_cached=True,
            started_at=now,
            finished_at=now,
        )
        StepRun.objects.bulk_create(
            [
                StepRun(
                    run=run,
                    step_id=step.step_id,
                    index=step.index,
                    skill_id=step.skill_id,
                    skill_version_id=step.skill_version_id,
                    status=step.status,
                    max_attempts=step.max_attempts,
                    timeout_seconds=step.timeout_seconds,
                    params=step.params,
                    output=step.output,
                    output_bytes=step.output_bytes,
                    is_cached=True,
                    cache_key=step.cache_key,
                    queued_at=now,
                    started_at=now,
                    finished_at=now,
                )
                for step in source.steps.all()
            ],
            batch_size=500,
        )
        run_events_record(run.pk, [run_entry(RunStatus.SUCCEEDED)])
        transaction.on_commit(
            lambda: announce(
                {"event": "run", "run": run.pk, "status": RunStatus.SUCCEEDED, "is_cached": True}
            )
        )
    return run


def run_retry(*, run: WorkflowRun) -> WorkflowRun:
    """Run a failed (or cancelled) run again from the steps that did not succeed, keeping the
    outputs of those that did; `RunStateConflict` (409) for a run that is active or succeeded.
    Each step run again gets its retries afresh; its attempts keep counting."""
    shape = shape_for(version_id=run.version_id)
    now = timezone.now()
    with transaction.atomic():
        reopened = WorkflowRun.objects.filter(
            pk=run.pk, status__in=(RunStatus.FAILED, RunStatus.CANCELLED)
        ).update(status=RunStatus.RUNNING, finished_at=None, error_type="", error_message="")
        if not reopened:
            status = WorkflowRun.objects.values_list("status", flat=True).get(pk=run.pk)
            raise RunStateConflict(
                f"run {run.pk} is {status}: only a failed or cancelled run can be retried"
            )
        steps = list(run.steps.select_for_update().order_by("index"))
        # A step skipped by its own condition is done; one skipped because upstream failed is not.
        done = {
            step.step_id
            for step in steps
            if step.status == StepStatus.SUCCEEDED
            or (step.status == StepStatus.SKIPPED and step.error_type == "")
        }
        again = []
        for step in steps:
            if step.step_id in done:
                continue
            spec = shape.steps[step.step_id]
            waiting = sum(1 for parent in spec.parents if parent not in done)
            step.status = StepStatus.PENDING if waiting else StepStatus.QUEUED
            step.remaining_dependencies = waiting
            step.max_attempts = step.attempt + spec.spec.retries + 1
            step.queued_at = None if waiting else now
            step.started_at = step.finished_at = step.heartbeat_at = None
            step.output = step.output_bytes = None
            step.error_type = step.error_message = step.error_traceback = ""
            again.append(step)
        StepRun.objects.bulk_update(
            again,
            [
                "status",
                "remaining_dependencies",
                "max_attempts",
                "queued_at",
                "started_at",
                "finished_at",
                "heartbeat_at",
                "output",
                "output_bytes",
                "error_type",
                "error_message",
                "error_traceback",
            ],
            batch_size=500,
        )
        ready = [(step.pk, step.timeout_seconds) for step in again if step.status == "queued"]
        run_events_record(
            run.pk,
            [
                run_entry(RunStatus.RUNNING),
                *(step_entry(step.step_id, step.status, step.attempt) for step in again),
            ],
        )
        transaction.on_commit(lambda: steps_enqueue(ready))
        transaction.on_commit(
            lambda: announce({"event": "run", "run": run.pk, "status": RunStatus.RUNNING})
        )
    run.refresh_from_db()
    return run
