"""Carrying out steps on a worker: claim, resolve, run through the runs wing, record, release.

`step_task_run` is what a django-q2 task calls with a step's pk. It claims the step (one
conditional UPDATE: a task delivered twice finds it taken), runs it, and when the step's
release moved dependents to queued it continues straight into one of them in the same task —
claimed with the same conditional UPDATE — and enqueues the others: the ORM broker polls, so a
round trip through the queue per step would cost more than the step (docs/workflows.md,
"Speed"). It keeps going while the task's time budget holds the next step's timeout.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.utils import timezone

from atom_site.events.record import Subject, output_streamed
from perf.recording import record_sample
from skills.installer.backends import InstallError
from skills.models import Environment, SkillVersion
from skills.runs.calls import run_plan_call
from skills.runs.errors import InvalidParams, RunError, RunUnavailable
from skills.runs.plan import run_plan_prepare
from workflows.engine.caching import lock_hash, step_cache_key, step_cache_lookup, ttl_of
from workflows.engine.refs import (
    ReferenceUnresolved,
    condition_holds,
    params_resolve,
    steps_referenced,
)
from workflows.engine.shape import shape_for
from workflows.engine.start import TASK_MARGIN_SECONDS, steps_enqueue, task_timeout
from workflows.engine.states import (
    Succeeded,
    run_finish_if_done,
    run_mark_running,
    step_claim,
    step_claim_next,
    step_error_note,
    step_fail,
    step_next_attempt,
    step_succeed,
)
from workflows.engine.watch import WATCH
from workflows.models import RUN_FINISHED, StepRun, StepStatus, WorkflowRun
from workflows.operations import STEP_ENGINE_OVERHEAD, STEP_QUEUE_WAIT, STEP_RUN

logger = logging.getLogger(__name__)

# Failures that happen again on a retry: not retried.
NOT_RETRIED = frozenset(
    {
        "InvalidParams",
        "ReferenceUnresolved",
        "OutputTooLarge",
        "ResultNotSerializable",
        "ResultTooLarge",
        "SkillNotRunnable",
    }
)


@dataclass(slots=True)
class Attempt:
    """What one attempt came to: an output, or an error (type, message, traceback)."""

    output: Any = None
    output_bytes: int | None = None
    error: dict[str, str] | None = None
    duration_seconds: float | None = None
    call_seconds: float = 0.0
    is_cached: bool = False
    cache_key: str = ""
    is_called: bool = False  # the skill was called (the engine counts it in the skill's runs)


@dataclass(slots=True)
class TaskState:
    """What one task learns once and reuses for the successors it carries out inline: the run
    (its status is re-checked by every conditional update, not by re-reading it), the outputs
    it produced, and the environments it took."""

    runs: dict[int, WorkflowRun] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)

    def run_for(self, run_id: int) -> WorkflowRun:
        run = self.runs.get(run_id)
        if run is None:
            run = WorkflowRun.objects.select_related("workflow", "agent").get(pk=run_id)
            self.runs = {run_id: run}
            self.outputs = {}
        return run


# Skill versions are immutable: each worker reads one (with its skill) once.
_versions: OrderedDict[int, SkillVersion] = OrderedDict()


def _skill_version(version_id: int) -> SkillVersion:
    version = _versions.get(version_id)
    if version is None:
        version = SkillVersion.objects.select_related("skill").get(pk=version_id)
        _versions[version_id] = version
        while len(_versions) > 512:
            _versions.popitem(last=False)
    return version


def step_task_run(*, step_pk: int, budget_seconds: float | None = None) -> str:
    """Carry out a queued step and, inline, the successors its release leaves to this worker.
    Returns a short account (`django_q` keeps it only when the task fails)."""
    if budget_seconds is None:
        budget_seconds = task_timeout(0) - TASK_MARGIN_SECONDS
    deadline = time.monotonic() + budget_seconds
    state = TaskState()
    done = 0
    step = step_claim(step_pk=step_pk, now=timezone.now())
    while step is not None:
        left = deadline - time.monotonic() - TASK_MARGIN_SECONDS
        succeeded = _step_carry_out(step, state, continue_within=left)
        done += 1
        step = None
        if succeeded is not None and succeeded.released:
            # The first released step was claimed with the release (when its timeout fits in
            # what this task has left): go straight into it; the others go to the queue.
            step = succeeded.claimed
            rest = succeeded.released[1:] if step is not None else succeeded.released
            if rest:
                steps_enqueue((item.pk, item.timeout_seconds) for item in rest)
        else:
            # Nothing released (or the step failed): take a step the run already has ready
            # (400 independent steps then flow through the workers without a queue round trip
            # each, and a failure under `finish_branches` does not strand the others).
            run_id = next(iter(state.runs), None)
            if run_id is None or state.runs[run_id].status in RUN_FINISHED:
                break
            if time.monotonic() + TASK_MARGIN_SECONDS * 2 < deadline:
                step = step_claim_next(run_id=run_id, now=timezone.now())
            else:  # out of time: hand the run's next ready step to a fresh task
                steps_enqueue(
                    StepRun.objects.filter(run_id=run_id, status=StepStatus.QUEUED)
                    .order_by("index")
                    .values_list("pk", "timeout_seconds")[:1]
                )
    return f"{done} step(s)"


def _step_carry_out(
    step: StepRun, state: TaskState, *, continue_within: float | None = None
) -> Succeeded | None:
    """One claimed step to its release; None when it failed or was no longer ours."""
    now = step.started_at or timezone.now()
    claimed = time.perf_counter()
    run = state.run_for(step.run_id)
    shape = shape_for(version_id=run.version_id)
    spec = shape.steps[step.step_id].spec
    version = _skill_version(step.skill_version_id)
    context = {
        "workflow": shape.definition.slug,
        "step": step.step_id,
        "skill": version.skill.slug,
        "version": version.content_hash,
    }
    if step.queued_at is not None:
        wait = max(0.0, (now - step.queued_at).total_seconds())
        record_sample(STEP_QUEUE_WAIT, wait, **context)
    if run.status in RUN_FINISHED:  # ended between our claim and this read: the step with it
        return None
    if run.status != "running":
        run_mark_running(run=run, now=now)

    outputs = _outputs_for(step, spec_refs=steps_referenced(spec), carried=state.outputs)
    if spec.when is not None and not condition_holds(spec.when, inputs=run.inputs, outputs=outputs):
        succeeded = step_succeed(
            step=step, shape=shape, output=None, output_bytes=None, params=None,
            duration_seconds=None, status=StepStatus.SKIPPED, continue_within=continue_within,
        )  # fmt: skip
        return _after_release(run, succeeded)
    try:
        params = params_resolve(spec.params, inputs=run.inputs, outputs=outputs)
    except ReferenceUnresolved as unresolved:
        step_fail(
            step=step,
            shape=shape,
            run=run,
            error={"type": "ReferenceUnresolved", "message": str(unresolved)},
            params=None,
        )
        return None

    while True:
        attempt = _attempt(step, spec, run, version, params, context, state)
        if attempt.error is None:
            break
        error = attempt.error
        retryable = error["type"] not in NOT_RETRIED and not WATCH.is_lost(step.pk)
        counted = version.skill_id if attempt.is_called else None
        if not retryable or step.attempt >= step.max_attempts:
            step_fail(step=step, shape=shape, run=run, error=error, params=params,
                      counted_skill_id=counted)  # fmt: skip
            _overhead_record(claimed, attempt, context, ok=False)
            return None
        if not step_error_note(step=step, error=error, params=params, counted_skill_id=counted):
            return None
        delay = spec.retry_delay_seconds * spec.retry_backoff ** (step.attempt - 1)
        if not _retry_wait(step, delay) or not step_next_attempt(step=step):
            return None

    succeeded = step_succeed(
        step=step,
        shape=shape,
        output=attempt.output,
        output_bytes=attempt.output_bytes,
        params=params,
        duration_seconds=attempt.duration_seconds,
        is_cached=attempt.is_cached,
        cache_key=attempt.cache_key,
        counted_skill_id=version.skill_id if attempt.is_called else None,
        continue_within=continue_within,
    )
    _overhead_record(claimed, attempt, context, ok=True)
    if succeeded is not None:
        state.outputs[step.step_id] = attempt.output
    return _after_release(run, succeeded)


def _after_release(run, succeeded: Succeeded | None) -> Succeeded | None:
    if succeeded is not None and not succeeded.released:
        run_finish_if_done(run=run)
    return succeeded


def _overhead_record(claimed: float, attempt: Attempt, context: dict, *, ok: bool) -> None:
    overhead = time.perf_counter() - claimed - attempt.call_seconds
    record_sample(STEP_ENGINE_OVERHEAD, max(0.0, overhead), ok=ok, **context)


def _outputs_for(step: StepRun, *, spec_refs: set[str], carried: dict[str, Any]) -> dict[str, Any]:
    """The outputs of the upstream steps `step` reads: from this task when it produced them,
    else one query. A step skipped by its condition has no output (its reference fails)."""
    outputs = {step_id: carried[step_id] for step_id in spec_refs if step_id in carried}
    missing = spec_refs - outputs.keys()
    if missing:
        for step_id, output in StepRun.objects.filter(
            run_id=step.run_id, step_id__in=missing, status=StepStatus.SUCCEEDED
        ).values_list("step_id", "output"):
            outputs[step_id] = output
    return outputs


def _retry_wait(step: StepRun, delay: float) -> bool:
    """Wait out a retry's delay in the worker, beating meanwhile; False if the step was lost."""
    WATCH.register(step_pk=step.pk, attempt=step.attempt, call_id=f"step-{step.pk}-wait")
    try:
        end = time.monotonic() + delay
        while (remaining := end - time.monotonic()) > 0:
            if WATCH.is_lost(step.pk):
                return False
            time.sleep(min(remaining, 0.2))
        return not WATCH.is_lost(step.pk)
    finally:
        WATCH.unregister(step_pk=step.pk)


def _attempt(
    step, spec, run, version: SkillVersion, params: dict, context: dict, state: TaskState
) -> Attempt:
    """One attempt: the plan (params checked against the skill's schema), the environment, the
    cache, the call through the runs wing (a warm runner), and the output checked."""
    try:
        plan = run_plan_prepare(
            skill=version.skill, params=params, version=version, timeout=step.timeout_seconds
        )
        # The environment taken for an earlier step of this task serves this one too.
        taken = state.environments.get(plan.spec.key)
        plan = replace(plan, environment=taken) if taken else plan.with_environment()
        state.environments[plan.spec.key] = plan.environment
    except InvalidParams as invalid:
        return Attempt(error={"type": "InvalidParams", "message": invalid.detail})
    except RunUnavailable as unavailable:
        return Attempt(error={"type": unavailable.cause, "message": unavailable.message})
    except RunError as refused:
        return Attempt(error={"type": type(refused).__name__, "message": refused.message})
    except InstallError as failed:
        return Attempt(error={"type": "InstallError", "message": str(failed)})

    cache_key = ""
    if spec.cache:
        cache_key = step_cache_key(
            content_hash=version.content_hash, params=params, lock=lock_hash(plan.environment)
        )
        found, output = step_cache_lookup(key=cache_key, ttl_seconds=ttl_of(spec.cache_ttl_seconds))
        if found:
            size = len(json.dumps(output, ensure_ascii=False).encode())
            return Attempt(output=output, output_bytes=size, is_cached=True, cache_key=cache_key)

    call_id = f"step-{step.pk}-{step.attempt}"
    WATCH.register(step_pk=step.pk, attempt=step.attempt, call_id=call_id)
    started = time.perf_counter()
    try:
        # What the skill prints is the run's live log, written before the step's outcome.
        with output_streamed(Subject("run", run.pk), step=step.step_id):
            result = run_plan_call(plan, agent=run.agent, call_id=call_id, is_counted=False)
    except RunUnavailable as unavailable:
        return Attempt(error={"type": unavailable.cause, "message": unavailable.message})
    except (RunError, InstallError) as failed:
        return Attempt(error={"type": type(failed).__name__, "message": str(failed)})
    finally:
        WATCH.unregister(step_pk=step.pk)
    call_seconds = time.perf_counter() - started
    record_sample(
        STEP_RUN,
        result.wall_seconds,
        ok=result.ok,
        error=result.error.type if result.error else "",
        **context,
    )
    if not result.ok:
        error = result.error
        return Attempt(
            error={"type": error.type, "message": error.message, "traceback": error.traceback},
            duration_seconds=result.duration_seconds,
            call_seconds=call_seconds,
            is_called=True,
        )
    try:
        text = json.dumps(result.result, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        return Attempt(
            error={"type": "ResultNotSerializable", "message": f"the output is not JSON: {error}"},
            call_seconds=call_seconds,
            is_called=True,
        )
    size = len(text.encode())
    limit = settings.ATOM_STEP_OUTPUT_MAX_BYTES
    if size > limit:
        return Attempt(
            error={
                "type": "OutputTooLarge",
                "message": f"the output is {size:,} bytes of JSON; a step may keep at most "
                f"{limit:,} (ATOM_STEP_OUTPUT_MAX_BYTES)",
            },
            duration_seconds=result.duration_seconds,
            call_seconds=call_seconds,
            is_called=True,
        )
    return Attempt(
        output=result.result,
        output_bytes=size,
        duration_seconds=result.duration_seconds,
        call_seconds=call_seconds,
        cache_key=cache_key,
        is_called=True,
    )
