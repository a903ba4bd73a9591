"""Atom's data as typed DataFrames, read through the same domain functions as the API."""

from __future__ import annotations

import difflib
from datetime import timedelta

import pandas as pd
from django.db.models import Count, Q

from atom.configure import in_orm_thread_ready
from atom.lookup import run_find, skill_find, workflow_find
from atom.tables import FLAG, INTEGER, NUMBER, OBJECT, TEXT, TIME, Moment, typed_frame, window_of
from perf.analysis import operation_is_known
from perf.analysis import summary as summary_compute
from perf.models import Alert, Baseline, Budget, Sample
from perf.recording import flush as samples_flush
from perf.registry import operations_known
from perf.regressions import (
    ThresholdInvalidError,
    regressions_compute,
    threshold_checked,
    version_regressions_compute,
)
from skills.marketplace.search import SearchInvalid, skill_search
from skills.models import Environment, InstallJob
from skills.runs.notebook import skill_run_frame, skill_runs_frame
from workflows.models import StepRun, WorkflowRun

DEFAULT_SPAN = timedelta(hours=24)
SEARCH_PAGE_SIZE = 100

SKILL_COLUMNS = {
    "slug": TEXT,
    "category": TEXT,
    "type": TEXT,
    "status": TEXT,
    "language": TEXT,
    "version": TEXT,
    "description": TEXT,
    "tags": OBJECT,
    "install_count": INTEGER,
    "run_count": INTEGER,
    "package_count": INTEGER,
    "environment_key": TEXT,
    "environment_status": TEXT,
    "is_warm": FLAG,
    "size_bytes": INTEGER,
    "build_seconds": NUMBER,
    "run_p50_seconds": NUMBER,
    "run_samples": INTEGER,
    "created_at": TIME,
    "updated_at": TIME,
}


def operation_check(operation: str) -> None:
    """A LookupError naming an operation no app registered, and the closest names."""
    if operation_is_known(operation):
        return
    close = difflib.get_close_matches(operation, sorted(operations_known()), n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise LookupError(f"no operation {operation!r}{hint}")


@in_orm_thread_ready
def skills(
    query: str = "",
    *,
    category: str | None = None,
    type: str | None = None,
    tag: str | None = None,
    sort: str = "relevance",
    limit: int = 100,
) -> pd.DataFrame:
    """Marketplace search (the `/api/marketplace/skills` function): approved skills matching a
    web-search style query, best first, with what installing each would cost here."""
    rows, page = [], 1
    while len(rows) < limit:
        try:
            found = skill_search(
                query=query,
                category=category,
                type=type,
                tag=tag,
                sort=sort,
                page=page,
                page_size=min(SEARCH_PAGE_SIZE, limit),
            )
        except SearchInvalid as invalid:
            raise ValueError(f"{invalid.field}: {invalid.message}") from None
        for hit in found.items:
            cost = hit.cost
            rows.append(
                {
                    **{name: getattr(hit, name, None) for name in SKILL_COLUMNS},
                    **{name: getattr(cost, name) for name in SKILL_COLUMNS if hasattr(cost, name)},
                }
            )
        if page >= found.pages:
            break
        page += 1
    return typed_frame(rows[:limit], SKILL_COLUMNS)


ENVIRONMENT_COLUMNS = {
    "key": TEXT,
    "language": TEXT,
    "backend": TEXT,
    "status": TEXT,
    "requirements": OBJECT,
    "interpreter": TEXT,
    "size_bytes": INTEGER,
    "build_seconds": NUMBER,
    "build_count": INTEGER,
    "use_count": INTEGER,
    "install_jobs": INTEGER,
    "cache_hits": INTEGER,
    "location": TEXT,
    "error": TEXT,
    "created_at": TIME,
    "ready_at": TIME,
    "last_used_at": TIME,
}


@in_orm_thread_ready
def environments(*, status: str | None = None) -> pd.DataFrame:
    """Every environment on this host (as `manage.py envs list`), with its install jobs and how
    many of them found it already built (`cache_hits`)."""
    rows = Environment.objects.annotate(
        install_jobs=Count("jobs"),
        cache_hits=Count("jobs", filter=Q(jobs__cache_hit=True)),
    ).order_by("-last_used_at", "key")
    if status is not None:
        rows = rows.filter(status=status)
    return typed_frame(rows.values(*ENVIRONMENT_COLUMNS), ENVIRONMENT_COLUMNS)


INSTALL_COLUMNS = {
    "id": INTEGER,
    "batch": TEXT,
    "status": TEXT,
    "cache_hit": FLAG,
    "environment": TEXT,
    "skills": OBJECT,
    "agent": TEXT,
    "attempts": INTEGER,
    "error": TEXT,
    "resolve_seconds": NUMBER,
    "install_seconds": NUMBER,
    "verify_seconds": NUMBER,
    "total_seconds": NUMBER,
    "created_at": TIME,
    "started_at": TIME,
    "finished_at": TIME,
}


@in_orm_thread_ready
def installs(*, since: Moment = None, limit: int = 10_000) -> pd.DataFrame:
    """Install jobs, newest first: cache hits, timings of each phase, errors."""
    since_at, _ = window_of(since, None, default_span=None)
    jobs = InstallJob.objects.select_related("environment", "agent").order_by("-created_at", "-id")
    if since_at is not None:
        jobs = jobs.filter(created_at__gte=since_at)
    jobs = list(jobs[:limit])
    members: dict[int, list[str]] = {}
    for job_id, slug in InstallJob.skills.through.objects.filter(
        installjob_id__in=[job.pk for job in jobs]
    ).values_list("installjob_id", "skill__slug"):
        members.setdefault(job_id, []).append(slug)
    rows = [
        {
            **{name: getattr(job, name) for name in INSTALL_COLUMNS if hasattr(job, name)},
            "id": job.pk,
            "batch": str(job.batch) if job.batch else None,
            "environment": job.environment.key,
            "skills": sorted(members.get(job.pk, [])),
            "agent": job.agent.slug if job.agent_id else None,
        }
        for job in jobs
    ]
    return typed_frame(rows, INSTALL_COLUMNS)


RUN_COLUMNS = {
    "id": INTEGER,
    "workflow": TEXT,
    "version": TEXT,
    "status": TEXT,
    "is_cached": FLAG,
    "steps": INTEGER,
    "error_type": TEXT,
    "error_message": TEXT,
    "created_at": TIME,
    "started_at": TIME,
    "finished_at": TIME,
    "duration_seconds": NUMBER,
}


@in_orm_thread_ready
def runs(workflow: str | None = None, *, since: Moment = None, limit: int = 1_000) -> pd.DataFrame:
    """Workflow runs, newest first (the `/api/workflow-runs/` list)."""
    since_at, _ = window_of(since, None, default_span=None)
    found = WorkflowRun.objects.select_related("workflow", "version").annotate(
        step_count=Count("steps")
    )
    if workflow is not None:
        found = found.filter(workflow=workflow_find(workflow))
    if since_at is not None:
        found = found.filter(created_at__gte=since_at)
    rows = [
        {
            **{name: getattr(run, name) for name in RUN_COLUMNS if hasattr(run, name)},
            "id": run.pk,
            "workflow": run.workflow.slug,
            "version": run.version.version,
            "steps": run.step_count,
        }
        for run in found.order_by("-created_at", "-id")[:limit]
    ]
    return typed_frame(rows, RUN_COLUMNS)


STEP_COLUMNS = {
    "step": TEXT,
    "index": INTEGER,
    "skill": TEXT,
    "status": TEXT,
    "attempt": INTEGER,
    "is_cached": FLAG,
    "worker": TEXT,
    "error_type": TEXT,
    "error_message": TEXT,
    "output": OBJECT,
    "queued_at": TIME,
    "started_at": TIME,
    "finished_at": TIME,
    "duration_seconds": NUMBER,
    "wall_seconds": NUMBER,
}


def step_rows(run_id: int) -> list[dict]:
    return [
        {
            **{name: getattr(step, name) for name in STEP_COLUMNS if hasattr(step, name)},
            "step": step.step_id,
            "skill": step.skill.slug,
        }
        for step in StepRun.objects.filter(run_id=run_id).select_related("skill").order_by("index")
    ]


@in_orm_thread_ready
def steps(run: int | object) -> pd.DataFrame:
    """The steps of a run (its id, or a handle from `run_workflow`), in definition order."""
    run_id = getattr(run, "id", run)
    return typed_frame(step_rows(run_find(run_id).pk), STEP_COLUMNS)


SAMPLE_COLUMNS = {
    "id": INTEGER,
    "operation": TEXT,
    "duration": NUMBER,
    "ok": FLAG,
    "error": TEXT,
    "skill": TEXT,
    "version": TEXT,
    "environment_key": TEXT,
    "workflow": TEXT,
    "step": TEXT,
    "agent": TEXT,
    "host": TEXT,
    "created_at": TIME,
}


@in_orm_thread_ready
def samples(
    operation: str,
    *,
    since: Moment = "24h",
    until: Moment = None,
    skill: str | None = None,
    limit: int = 100_000,
) -> pd.DataFrame:
    """Raw timing samples of one operation in [since, until), oldest first (seconds). The
    samples this kernel recorded and still buffers are written first."""
    operation_check(operation)
    samples_flush()
    since_at, until_at = window_of(since, until, default_span=DEFAULT_SPAN)
    found = Sample.objects.filter(
        operation=operation, created_at__gte=since_at, created_at__lt=until_at
    )
    if skill is not None:
        found = found.filter(skill=skill)
    rows = found.order_by("-created_at", "-id").values(*SAMPLE_COLUMNS)[:limit]
    return typed_frame(reversed(list(rows)), SAMPLE_COLUMNS)


SUMMARY_COLUMNS = {
    "operation": TEXT,
    "count": INTEGER,
    "error_count": INTEGER,
    "average": NUMBER,
    "minimum": NUMBER,
    "maximum": NUMBER,
    "p50": NUMBER,
    "p95": NUMBER,
    "p99": NUMBER,
    "budget": NUMBER,
    "budget_statistic": TEXT,
    "is_over_budget": FLAG,
    "baseline_p50": NUMBER,
    "baseline_p95": NUMBER,
    "baseline_p99": NUMBER,
}


class SummaryFrame(pd.DataFrame):
    """The summary's DataFrame, shown with its window and its budget breaches marked."""

    _metadata = ["since", "until"]

    @property
    def _constructor(self):
        return SummaryFrame

    def _repr_html_(self) -> str:
        from atom.displays import summary_html

        return summary_html(self)


@in_orm_thread_ready
def summary(
    operation: str | None = None,
    *,
    since: Moment = "24h",
    until: Moment = None,
    skill: str | None = None,
    version: str | None = None,
) -> SummaryFrame:
    """p50/p95/p99 (seconds), count, average, min and max per operation in [since, until),
    beside its budget and baseline (the `/api/perf/summary` function)."""
    if operation is not None:
        operation_check(operation)
    since_at, until_at = window_of(since, until, default_span=DEFAULT_SPAN)
    samples_flush()
    budgets = {budget.operation: budget for budget in Budget.objects.all()}
    baselines = {b.operation: b for b in Baseline.objects.filter(skill="", version="")}
    rows = []
    for item in summary_compute(
        operation=operation, since=since_at, until=until_at, skill=skill, version=version
    ):
        budget = budgets.get(item.operation)
        baseline = baselines.get(item.operation)
        row = {**item.as_dict()}
        if budget is not None:
            row.update(
                budget=budget.seconds,
                budget_statistic=budget.statistic,
                is_over_budget=item.statistic(budget.statistic) > budget.seconds,
            )
        if baseline is not None:
            row.update({f"baseline_{name}": getattr(baseline, name) for name in STATISTICS})
        rows.append(row)
    frame = SummaryFrame(typed_frame(rows, SUMMARY_COLUMNS))
    frame.since, frame.until = since_at, until_at
    return frame


STATISTICS = ("p50", "p95", "p99")

REGRESSION_COLUMNS = {
    "kind": TEXT,
    "operation": TEXT,
    "skill": TEXT,
    "statistic": TEXT,
    "previous_version": TEXT,
    "version": TEXT,
    "observed": NUMBER,
    "reference": NUMBER,
    "limit": NUMBER,
    "ratio": NUMBER,
    "count": INTEGER,
    "is_breached": FLAG,
    "environment_changes": TEXT,
}


@in_orm_thread_ready
def regressions(
    operation: str | None = None,
    *,
    since: Moment = None,
    until: Moment = None,
    threshold: float | None = None,
    statistic: str | None = None,
) -> pd.DataFrame:
    """Each baselined operation against threshold × its baseline (kind "operation"), and each
    skill's newest version against the one before (kind "version"): the `/api/perf/regressions`
    functions. Read only: alerts are raised by the scheduled check."""
    if operation is not None:
        operation_check(operation)
    since_at, until_at = window_of(since, until, default_span=None)
    samples_flush()
    try:
        threshold = threshold_checked(threshold)
    except ThresholdInvalidError as error:
        raise ValueError(f"{error.field}: {error}") from None
    rows = [
        {**verdict.as_dict(), "kind": "operation"}
        for verdict in regressions_compute(
            operation=operation,
            since=since_at,
            until=until_at,
            threshold=threshold,
            statistic=statistic,
        )
    ]
    for verdict in version_regressions_compute(since=since_at, until=until_at, threshold=threshold):
        found = verdict.as_dict()
        rows.append(
            {
                **found,
                "kind": "version",
                "statistic": "p95",
                "observed": found["p95"],
                "reference": found["previous_p95"],
            }
        )
    return typed_frame(rows, REGRESSION_COLUMNS)


ALERT_COLUMNS = {
    "id": INTEGER,
    "kind": TEXT,
    "operation": TEXT,
    "subject": TEXT,
    "severity": TEXT,
    "message": TEXT,
    "observed": NUMBER,
    "threshold": NUMBER,
    "acknowledged_by": TEXT,
    "created_at": TIME,
    "updated_at": TIME,
    "closed_at": TIME,
    "acknowledged_at": TIME,
}


@in_orm_thread_ready
def alerts(
    *, state: str = "open", operation: str | None = None, kind: str | None = None
) -> pd.DataFrame:
    """Alerts, newest first (the `/api/perf/alerts` list): open ones by default."""
    if state not in ("open", "closed", "all"):
        raise ValueError(f"state: must be open, closed or all, not {state!r}")
    found = Alert.objects.all()
    if state != "all":
        found = found.filter(closed_at__isnull=state == "open")
    if operation is not None:
        operation_check(operation)
        found = found.filter(operation=operation)
    if kind is not None:
        found = found.filter(kind=kind)
    rows = found.order_by("-created_at", "-id").values(
        *(name for name in ALERT_COLUMNS if name != "acknowledged_by"),
        "acknowledged_by__username",
    )
    return typed_frame(
        ({**row, "acknowledged_by": row["acknowledged_by__username"]} for row in rows),
        ALERT_COLUMNS,
    )


@in_orm_thread_ready
def calls(
    skill: str, params: dict | None = None, *, repeat: int = 1, timeout: float | None = None
) -> pd.DataFrame:
    """Call a skill `repeat` times with the same params: one row per call, with its result or
    error, the runner's cache (loaded, hit) and the times in the runner and end to end."""
    skill_find(skill)
    return skill_run_frame(skill, params, repeat=repeat, timeout=timeout)


@in_orm_thread_ready
def skill_runs(skill: str | None = None, *, limit: int = 1_000) -> pd.DataFrame:
    """Recorded skill runs (API, admin "try it", queued), newest first."""
    if skill is not None:
        skill_find(skill)
    return skill_runs_frame(skill, limit=limit)
