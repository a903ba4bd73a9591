"""Atom's catalog, environments, installs and runs as typed DataFrames, read through the same
domain functions as the API (the perf data is in atom.performance)."""

from __future__ import annotations

import pandas as pd
from django.db.models import Count, Q

from atom.configure import in_orm_thread_ready
from atom.lookup import run_find, skill_find, workflow_find
from atom.tables import FLAG, INTEGER, NUMBER, OBJECT, TEXT, TIME, Moment, typed_frame, window_of
from skills.marketplace.search import SearchInvalid, skill_search
from skills.models import Environment, InstallJob
from skills.runs.notebook import skill_run_frame, skill_runs_frame
from workflows.models import StepRun, WorkflowRun

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
