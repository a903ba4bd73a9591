"""Running skills through the API: `POST /skills/{slug}/run`, `GET /runs/{id}` and `GET /runs/`.

Answers (docs/runtime.md, "Runs through the API"): 200 with the finished run, whether the
skill succeeded or failed (it ran: its error is in the run); 202 with a queued run to follow;
422 naming the param at fault; 409 when the skill cannot run here; 503 when the host cannot
run it now (no free runner, no Docker engine, no sandbox).
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from atom_site.auth import SIGNED_IN, key_agent_require, request_api_key, scope_require
from atom_site.errors import ApiError, errors_documented
from atom_site.events.read import SUBJECT_KINDS, FollowRefused, events_page, follow_check
from atom_site.events.record import Subject
from atom_site.pagination import SEQ_MAX, EventsPage, PageNumberOrCursor
from atom_site.rate_limits import rate_limit_counted
from skills.catalog.selectors import skill_with_current_version
from skills.models import Agent, Skill, SkillRun, SkillVersion
from skills.runs.errors import InvalidParams, RunError
from skills.runs.records import skill_run_start

router = Router(tags=["runs"])
skill_runs_router = Router(tags=["runs"])


class RunIn(Schema):
    params: dict[str, Any] = Field(default_factory=dict, description="The skill's inputs.")
    version: str | None = Field(None, description="Defaults to the skill's current version.")
    agent: str | None = Field(None, description="The slug of the agent asking.")
    timeout: float | None = Field(
        None, gt=0, description="Seconds; defaults to the skill's own, capped by the server."
    )
    queued: bool = Field(
        False,
        description="Run on a worker and answer at once (also chosen when the timeout exceeds "
        "the synchronous bound or the skill's environment is not installed yet).",
    )


class RunErrorOut(Schema):
    type: str
    message: str
    traceback: str
    stage: str


class RunOut(Schema):
    id: int
    skill: str
    version: str
    content_hash: str
    agent: str | None
    requested_by: str | None
    params: dict[str, Any]
    is_queued: bool
    timeout: float
    status: str
    attempts: int
    result: Any = None
    error: RunErrorOut | None
    stdout: str
    stdout_bytes: int
    stderr: str
    stderr_bytes: int
    cache: str
    load_seconds: float | None
    duration_seconds: float | None
    wall_seconds: float | None
    peak_rss_kb: int | None
    cpu_seconds: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_skill(run: SkillRun) -> str:
        return run.skill.slug

    @staticmethod
    def resolve_version(run: SkillRun) -> str:
        return run.version.version

    @staticmethod
    def resolve_content_hash(run: SkillRun) -> str:
        return run.version.content_hash

    @staticmethod
    def resolve_agent(run: SkillRun) -> str | None:
        return run.agent.slug if run.agent_id else None

    @staticmethod
    def resolve_requested_by(run: SkillRun) -> str | None:
        return run.requested_by.get_username() if run.requested_by_id else None


def run_refused(error: RunError) -> ApiError:
    """A run error in the API's error shape: `params.<name>` for params at fault."""
    field = error.params_field if isinstance(error, InvalidParams) else error.field
    return ApiError(error.status, error.detail, errors=_field_errors(field, error.message))


def _field_errors(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}] if field else []


@skill_runs_router.post(
    "/{slug}/run",
    response={200: RunOut, 202: RunOut, **errors_documented(401, 403, 404, 409, 422, 429, 503)},
    auth=SIGNED_IN,
    summary="Run a skill",
)
def skill_run(request: HttpRequest, slug: str, payload: RunIn):
    """Run the skill with `params`: 200 with the finished run (`status` succeeded or failed,
    with the skill's error), or 202 with a queued run to follow at `GET /runs/{id}`."""
    # Counted at once, refused (429) before anything is recorded: the count travels while the
    # run is prepared.
    with rate_limit_counted(request, "runs") as admit:
        skill, version, agent = _run_asked(request, slug, payload)
        try:
            run = skill_run_start(
                skill=skill,
                params=payload.params,
                version=version,
                agent=agent,
                user=request.user,
                timeout=payload.timeout,
                queued=payload.queued,
                admit=admit,
            )
        except RunError as refused:
            raise run_refused(refused) from None
    if run.is_queued:
        return Status(202, run)  # as recorded: a worker may already be carrying it out
    return Status(200, run)


def _run_asked(
    request: HttpRequest, slug: str, payload: RunIn
) -> tuple[Skill, SkillVersion | None, Agent | None]:
    """The skill, version and agent a run asks for, once the caller may run them (403, 404)."""
    scope_require(request, "run")
    skill = skill_with_current_version(slug=slug)
    if skill is None:
        raise ApiError(404, f"no such skill: {slug}", field="slug")
    if not skill.is_offered and not request.user.is_staff:
        raise PermissionDenied(f"{slug} is not approved; only staff users may run it")
    # A key bound to an agent runs for that agent, and only the skills mapped to it.
    agent = key_agent_require(request, skills=[skill], agent_slug=payload.agent)
    version = None
    if payload.version is not None:
        version = SkillVersion.objects.filter(skill=skill, version=payload.version).first()
        if version is None:
            raise ApiError(404, f"{slug} has no version {payload.version!r}", field="version")
    if agent is None and payload.agent is not None:
        agent = Agent.objects.filter(slug=payload.agent).first()
        if agent is None:
            raise ApiError(404, f"no such agent: {payload.agent}", field="agent")
    return skill, version, agent


@router.get(
    "/{run_id}", response={200: RunOut, **errors_documented(401, 403, 404, 422)}, auth=SIGNED_IN
)
def run_detail(request: HttpRequest, run_id: int):
    """A run's status, result or error, captured output and timings."""
    scope_require(request, "read")
    run = (
        SkillRun.objects.select_related("skill", "version", "agent", "requested_by")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise ApiError(404, f"no run {run_id}", field="run_id")
    if run.requested_by_id != request.user.pk and not request.user.is_staff:
        raise PermissionDenied("only the user who asked for a run, or staff, may read it")
    return run


@router.get(
    "/{run_id}/events",
    response={200: EventsPage, **errors_documented(401, 403, 404, 422)},
    auth=SIGNED_IN,
)
def run_events(
    request: HttpRequest,
    run_id: int,
    after: int = Query(0, ge=0, le=SEQ_MAX, description="The last seq you have: events after it."),
    limit: int = Query(500, ge=1, le=500),
):
    """A queued run's live events after `after` (status changes and batches of what it
    printed), as its websocket sends them (docs/live-progress.md)."""
    scope_require(request, "read")
    kind = SUBJECT_KINDS["skill_run"]
    run = kind.load(run_id)
    if run is None:
        raise ApiError(404, f"no queued run {run_id}", field="run_id")
    try:
        follow_check(kind, run, user=request.user, key=request_api_key(request))
    except FollowRefused as refused:
        raise PermissionDenied(str(refused)) from None
    return events_page(kind, Subject("skill_run", run.pk), run, after=after, limit=limit)


class SkillRunFilters(Schema):
    skill: str | None = Field(None, description="A skill's slug.")
    status: str | None = None


@router.get("/", response={200: list[RunOut], **errors_documented(401, 403, 422)}, auth=SIGNED_IN)
@paginate(PageNumberOrCursor, page_size=20)
def run_list(request: HttpRequest, filters: Query[SkillRunFilters]):
    """Newest first; a user's own runs (staff: everyone's), by skill and status."""
    scope_require(request, "read")
    runs = SkillRun.objects.select_related("skill", "version", "agent", "requested_by")
    if not request.user.is_staff:
        runs = runs.filter(requested_by=request.user)
    if filters.skill:
        runs = runs.filter(skill__slug=filters.skill)
    if filters.status:
        runs = runs.filter(status=filters.status)
    return runs.order_by("-created_at", "-id")
