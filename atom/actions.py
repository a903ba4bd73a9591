"""Installing, running a skill, and running a workflow from a notebook, with progress bars.

A workflow run is carried out by the django-q2 workers (`make up`, or `manage.py qcluster`),
as from the API: `run_workflow` starts it and returns a handle to watch it and read its result.
An install and a single skill call run here, in the kernel, as `manage.py envs ensure` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.db.models import Sum
from django.utils import timezone
from tqdm.auto import tqdm

from atom.configure import in_orm_thread, in_orm_thread_ready, ready_require
from atom.lookup import run_find, skill_find, workflow_find
from atom.performance import SAMPLE_COLUMNS
from atom.tables import typed_frame
from atom_site.events.read import events_after, last_seq
from atom_site.events.record import Subject
from perf.models import Sample
from skills.installer.jobs import install_request, skill_version_spec
from skills.models import InstallJob
from skills.runs.calls import run_skill as skill_call
from workflows.builder import Workflow as WorkflowBuilder
from workflows.engine import run_start
from workflows.models import RUN_FINISHED, StepRun, WorkflowRun
from workflows.operations import STEP_RUN

POLL_SECONDS = 0.2
EVENTS_PAGE = 500
# A run still queued this long with no cluster alive gets a hint on how to start one.
QUEUED_HINT_SECONDS = 5.0


class RunFailed(RuntimeError):
    """A skill call or a workflow run that failed: its error, shown without a traceback."""

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []

    def __str__(self) -> str:
        return "\n".join([self.args[0], *self.details])

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of the Python traceback: the traceback of
        # the notebook's side says nothing about why the skill or the step failed.
        return [f"RunFailed: {self.args[0]}", *self.details]


# Installs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    skill: str
    job: int
    status: str
    cache_hit: bool | None
    environment: str
    total_seconds: float | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def _repr_html_(self) -> str:
        from atom.displays import installed_html

        return installed_html(self)


@in_orm_thread
def _install_progress(key: str) -> tuple[str, int, str]:
    job = InstallJob.objects.filter(environment__key=key).order_by("-id").first()
    if job is None:
        return "queued", 0, ""
    last = job.log_lines.order_by("-id").values_list("text", flat=True).first() or ""
    return job.status, job.log_lines.count(), last


@in_orm_thread_ready
def _install_plan(slug: str, version: str | None) -> Any:
    skill = skill_find(slug)
    chosen = skill.versions.get(version=version) if version else skill.current_version
    if chosen is None:
        raise LookupError(f"skill {slug!r} has no version to install")
    chosen.skill = skill
    return chosen


def install(skill: str, *, version: str | None = None, progress: bool = True) -> Installed:
    """Install a skill's environment here (a lookup when it is built already), with a
    progress bar of the build's log; raises LookupError for an unknown skill and
    `InstallRefused` (naming each requirement) for one this host refuses."""
    skill_version = _install_plan(skill, version)
    key = skill_version_spec(skill_version).key
    outcome: dict[str, Any] = {}

    def build() -> None:
        try:
            outcome["result"] = install_request(skill_versions=[skill_version], run_now=True)
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=build, name=f"atom-install-{skill}", daemon=True)
    worker.start()
    bar = tqdm(desc=f"install {skill}", unit=" lines", disable=not progress)
    seen = 0
    while worker.is_alive():
        worker.join(POLL_SECONDS)
        status, lines, last = _install_progress(key)
        bar.update(max(0, lines - seen))
        seen = max(seen, lines)
        bar.set_postfix_str(f"{status}: {last[:60]}", refresh=True)
    bar.close()
    if "error" in outcome:
        raise outcome["error"]
    return _installed(skill, outcome["result"].jobs[0].pk)


@in_orm_thread
def _installed(skill: str, job_pk: int) -> Installed:
    job = InstallJob.objects.select_related("environment").get(pk=job_pk)
    return Installed(
        skill=skill,
        job=job.pk,
        status=job.status,
        cache_hit=job.cache_hit,
        environment=job.environment.key,
        total_seconds=job.total_seconds,
        error=job.error,
    )


# Skill calls -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillCall:
    skill: str
    result: Any
    cache: str | None
    load_seconds: float
    run_seconds: float
    wall_seconds: float
    stdout: str
    stderr: str

    def _repr_html_(self) -> str:
        from atom.displays import skill_call_html

        return skill_call_html(self)


@in_orm_thread_ready
def run_skill(skill: str, /, **params: Any) -> SkillCall:
    """Call a skill's current version with `params`, as the API's run does (its environment
    installed on a miss, a warm runner, samples recorded). Refused params raise
    `InvalidParams` naming the field; a call that fails raises `RunFailed` with its error."""
    found = skill_find(skill)
    answer = skill_call(found, params)
    if answer.error is not None:
        error = answer.error
        details = [line for line in error.traceback.splitlines() if line.strip()][-8:]
        raise RunFailed(f"{skill} failed: {error.type}: {error.message}", details=details)
    return SkillCall(
        skill=skill,
        result=answer.result,
        cache=answer.cache,
        load_seconds=answer.load_seconds,
        run_seconds=answer.duration_seconds,
        wall_seconds=answer.wall_seconds,
        stdout=answer.stdout.text,
        stderr=answer.stderr.text,
    )


# Workflow runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    status: str
    error: str
    steps: dict[str, str] = field(default_factory=dict)

    @property
    def is_finished(self) -> bool:
        return self.status in RUN_FINISHED


@in_orm_thread
def run_snapshot(run_id: int) -> tuple[int, RunState]:
    """The run's last event seq, then its state: the state is at least as new as the events
    up to that seq, and every later change arrives as an event after it."""
    seq = last_seq(Subject("run", run_id))
    return seq, run_state(run_id)


@in_orm_thread
def run_events(run_id: int, *, after: int) -> list[dict[str, Any]]:
    """The run's events after `after` (atom_site.events: the websocket's and the HTTP API's)."""
    return events_after(Subject("run", run_id), after=after, limit=EVENTS_PAGE)


@in_orm_thread
def run_state(run_id: int) -> RunState:
    """The run's status and each step's, read from their rows."""
    run = WorkflowRun.objects.only("status", "error_type", "error_message").get(pk=run_id)
    steps = dict(StepRun.objects.filter(run_id=run_id).values_list("step_id", "status"))
    error = f"{run.error_type}: {run.error_message}" if run.error_type else run.error_message
    return RunState(status=run.status, error=error, steps=steps)


def _cluster_problem() -> str:
    from atom_site.health import check_cluster

    try:
        check_cluster()
    except Exception as error:
        return str(error)
    return ""


class RunHandle:
    """A workflow run: `.watch()` shows its progress live, `.result()` waits for its outputs;
    shown in a notebook as its steps table and Gantt chart."""

    def __init__(self, run_id: int) -> None:
        self.id = run_id

    def __repr__(self) -> str:
        return f"<RunHandle {self.id}: {self.state().status}>"

    def state(self) -> RunState:
        return run_state(self.id)

    def watch(self, *, timeout: float | None = None, progress: bool = True) -> RunHandle:
        """A live progress bar of finished steps, fed by the run's persisted events, until the
        run ends (or `timeout` seconds)."""
        started = time.monotonic()
        seq, state = run_snapshot(self.id)
        statuses, status, latest = dict(state.steps), state.status, ""
        bar = tqdm(total=len(statuses), desc=f"run {self.id}", unit=" steps", disable=not progress)
        hinted = False
        while True:
            bar.update(sum(value in _STEP_FINISHED for value in statuses.values()) - bar.n)
            bar.set_postfix_str(f"{status} {latest}"[:80], refresh=True)
            if status in RUN_FINISHED:
                break
            waited = time.monotonic() - started
            if timeout is not None and waited > timeout:
                bar.close()
                raise TimeoutError(f"run {self.id} still {status} after {timeout} s")
            if not hinted and status == "queued" and waited > QUEUED_HINT_SECONDS:
                problem = in_orm_thread(_cluster_problem)()
                if problem:
                    bar.write(f"run {self.id} is waiting for a worker: {problem}")
                hinted = True
            events = run_events(self.id, after=seq)
            for event in events:
                seq = event["seq"]
                if event["kind"] == "step":
                    statuses[event["step"]] = event["status"]
                    latest = f"{event['step']}: {event['status']}"
                elif event["kind"] == "run":
                    status = event["status"]
                elif event["kind"] == "log" and event["lines"]:
                    latest = f"{event.get('step', '')}: {event['lines'][-1]}"
            if not events:
                time.sleep(POLL_SECONDS)
        bar.close()
        return self

    def result(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Each step's output once the run succeeded; `RunFailed` with the run's and the failed
        steps' errors otherwise."""
        self.watch(timeout=timeout, progress=False)
        return _run_outcome(self.id)

    def samples(self, operation: str = STEP_RUN, *, timeout: float = 30.0) -> pd.DataFrame:
        """The timing samples the workers recorded for this run's steps (`step_run` by default:
        each attempt's call, end to end), once they are written. Workers write their samples
        in batches (at most `ATOM_PERF_FLUSH_INTERVAL` seconds late), so this waits, up to
        `timeout` seconds, until there is one per attempt: afterwards an estimate reads them."""
        self.watch(progress=False)
        deadline = time.monotonic() + timeout
        rows, expected = _run_samples(self.id, operation)
        while len(rows) < expected and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            rows, expected = _run_samples(self.id, operation)
        return typed_frame(rows, SAMPLE_COLUMNS)

    def _repr_html_(self) -> str:
        from atom.displays import run_html

        return run_html(self.id)


@in_orm_thread
def _run_samples(run_id: int, operation: str) -> tuple[list[dict[str, Any]], int]:
    """The run's samples of `operation` (its workflow's, recorded while it ran) and how many
    attempts ran a call (a cached step records none)."""
    run = run_find(run_id)
    attempts = StepRun.objects.filter(
        run_id=run_id, started_at__isnull=False, is_cached=False
    ).aggregate(total=Sum("attempt"))["total"]
    found = Sample.objects.filter(
        operation=operation,
        workflow=run.workflow.slug,
        created_at__gte=run.started_at or run.created_at,
        created_at__lte=run.finished_at or timezone.now(),
    )
    return list(found.order_by("created_at", "id").values(*SAMPLE_COLUMNS)), attempts or 0


_STEP_FINISHED = ("succeeded", "failed", "skipped", "cancelled")


@in_orm_thread
def _run_outcome(run_id: int) -> dict[str, Any]:
    run = run_find(run_id)
    steps = list(StepRun.objects.filter(run_id=run_id).order_by("index"))
    if run.status == "succeeded":
        return {step.step_id: step.output for step in steps if step.status == "succeeded"}
    failed = [
        f"  step {step.step_id}: {step.error_type}: {step.error_message}"
        for step in steps
        if step.status == "failed"
    ]
    reason = f"{run.error_type}: {run.error_message}" if run.error_type else run.error_message
    raise RunFailed(
        f"run {run_id} of {run.workflow.slug} {run.status}: {reason or 'see its steps'}",
        details=failed,
    )


@in_orm_thread_ready
def _run_begin(workflow: str | WorkflowBuilder, inputs: Mapping[str, Any] | None) -> int:
    if isinstance(workflow, WorkflowBuilder):
        outcome = workflow.save()
        stored = outcome.workflow
    else:
        stored = workflow_find(workflow)
    return run_start(stored, inputs or {}).pk


def run_workflow(
    workflow: str | WorkflowBuilder, inputs: Mapping[str, Any] | None = None
) -> RunHandle:
    """Start a run of a stored workflow (its slug) or of a built one (saved first, a new version
    only when it changed). Refusals raise as from the API: `RunRefused`, `RunInputsInvalid`
    naming the input, LookupError naming an unknown workflow and the closest ones."""
    return RunHandle(_run_begin(workflow, inputs))


def run(run_id: int) -> RunHandle:
    """A handle on an existing run."""
    ready_require()
    in_orm_thread(run_find)(run_id)
    return RunHandle(run_id)
