"""The workflows API: definitions, their versions, validation with the pre-run analysis, and
runs (`POST /workflows/{slug}/runs`, `/workflow-runs/`).

Reads of definitions are public (as the catalog is); writes need a signed-in staff user (a key
with the `publish` scope), as the skills API's do. Runs need a signed-in user (a key with the
`run` scope to start, cancel and retry, `read` to read); a user sees their own runs, staff see
all. Every endpoint is one call into the domain modules.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Body, Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from atom_site.auth import (
    SIGNED_IN,
    SIGNED_IN_OR_ANONYMOUS,
    key_agent_require,
    request_api_key,
    scope_require,
    staff_require,
)
from atom_site.errors import ApiError, ErrorOut, FieldErrorOut, errors_documented
from atom_site.events.read import SUBJECT_KINDS, FollowRefused, events_page, follow_check
from atom_site.events.record import Subject
from atom_site.pagination import EventsPage, PageNumber
from atom_site.rate_limits import rate_limit
from skills.models import Agent, Skill
from workflows.analysis import workflow_analyze
from workflows.engine import run_cancel, run_retry, run_start
from workflows.errors import (
    DefinitionError,
    DefinitionInvalid,
    RunInputsInvalid,
    RunRefused,
    RunStateConflict,
    WorkflowError,
    WorkflowSlugTaken,
)
from workflows.models import StepRun, Workflow, WorkflowRun
from workflows.services import workflow_delete, workflow_save
from workflows.validation import definition_validate

router = Router(tags=["workflows"], auth=SIGNED_IN_OR_ANONYMOUS)
runs_router = Router(tags=["workflow runs"], auth=SIGNED_IN)

DEFINITION = Body(..., description="A workflow definition (docs/workflows.md).")


class WorkflowOut(Schema):
    name: str
    slug: str
    description: str
    status: str
    version: str | None = Field(None, alias="current_version.version")
    content_hash: str | None = Field(None, alias="current_version.content_hash")
    step_count: int | None = Field(None, alias="current_version.step_count")
    updated_at: datetime


class WorkflowDetailOut(WorkflowOut):
    definition: dict[str, Any] | None = Field(None, alias="current_version.definition")


class VersionOut(Schema):
    version: str
    content_hash: str
    step_count: int
    created_at: datetime
    created_by: str | None = Field(None, alias="created_by.username")
    is_current: bool

    @staticmethod
    def resolve_is_current(version) -> bool:
        return version.pk == version.workflow.current_version_id


class SavedOut(Schema):
    change: str = Field(..., description="created, new_version, restored or unchanged")
    workflow: WorkflowDetailOut


class WorkflowErrorOut(FieldErrorOut):
    """One error of a definition: the one error shape's entry, with its step and code (absent
    when the request itself is invalid, e.g. a body that is not JSON)."""

    code: str = ""
    step: str = ""
    index: int | None = None


class InvalidOut(ErrorOut):
    """Every error of a definition at once (a 422), or of a run that cannot start (a 409)."""

    errors: list[WorkflowErrorOut] = []


class ValidationOut(Schema):
    ok: bool
    slug: str
    step_count: int
    analysis: dict[str, Any]


def _definition_errors(errors: list[DefinitionError]) -> list[dict[str, Any]]:
    """Each error as `WorkflowErrorOut` documents it (a file and line belong to file imports)."""
    return [
        {
            "field": error.field,
            "message": error.message,
            "code": error.code,
            "step": error.step,
            "index": error.index,
        }
        for error in errors
    ]


def refused(error: WorkflowError) -> ApiError:
    """The API's answer to a refusal of the workflows app (its `status`, its errors)."""
    if isinstance(error, DefinitionInvalid | RunRefused):
        return ApiError(error.status, error.message, errors=_definition_errors(error.errors))
    return ApiError(error.status, error.message, field=error.field)


def _validate_and_analyze(definition: Any) -> dict:
    try:
        validated = definition_validate(definition=definition)
    except DefinitionInvalid as invalid:
        raise refused(invalid) from None
    return {
        "ok": True,
        "slug": validated.definition.slug,
        "step_count": len(validated.step_ids),
        "analysis": workflow_analyze(validated=validated).as_dict(),
    }


def _writer_check(request: HttpRequest) -> None:
    scope_require(request, "publish")
    staff_require(request, "change workflows")


def _workflows():
    return Workflow.objects.select_related("current_version")


@router.get("/", response={200: list[WorkflowOut], **errors_documented(401, 422)})
@paginate(PageNumber, page_size=20)
def workflow_list(request: HttpRequest):
    return _workflows().defer("current_version__definition").order_by("slug")


@router.post(
    "/",
    response={201: SavedOut, 422: InvalidOut, **errors_documented(401, 403, 409)},
    auth=SIGNED_IN,
    summary="Create a workflow from a definition",
)
def workflow_create(request: HttpRequest, definition: dict[str, Any] = DEFINITION):
    _writer_check(request)
    try:
        outcome = workflow_save(definition=definition, actor=request.user, create_only=True)
    except (DefinitionInvalid, WorkflowSlugTaken) as error:
        raise refused(error) from None
    return Status(201, {"change": outcome.change, "workflow": outcome.workflow})


@router.post(
    "/validate",
    response={200: ValidationOut, 422: InvalidOut},
    auth=None,
    summary="Validate a definition and predict its run",
)
def workflow_validate(request: HttpRequest, definition: dict[str, Any] = DEFINITION):
    """200 with the analysis (depth, width, generations, critical path, estimate, environments
    to build, conflicts), or 422 listing every error, each naming its step and field."""
    return _validate_and_analyze(definition)


@router.get("/{slug}", response={200: WorkflowDetailOut, **errors_documented(401, 404)})
def workflow_detail(request: HttpRequest, slug: str):
    return get_object_or_404(_workflows(), slug=slug)


@router.put(
    "/{slug}",
    response={200: SavedOut, 422: InvalidOut, **errors_documented(401, 403, 404, 409)},
    auth=SIGNED_IN,
    summary="Change a workflow: a new version, or nothing when the definition is unchanged",
)
def workflow_update(request: HttpRequest, slug: str, definition: dict[str, Any] = DEFINITION):
    _writer_check(request)
    get_object_or_404(Workflow, slug=slug)
    definition = {"slug": slug, **definition}
    try:
        outcome = workflow_save(definition=definition, actor=request.user, slug=slug)
    except (DefinitionInvalid, WorkflowSlugTaken) as error:
        raise refused(error) from None
    return {"change": outcome.change, "workflow": outcome.workflow}


@router.delete("/{slug}", response={204: None, **errors_documented(401, 403, 404)}, auth=SIGNED_IN)
def workflow_remove(request: HttpRequest, slug: str):
    _writer_check(request)
    workflow_delete(workflow=get_object_or_404(Workflow, slug=slug))
    return Status(204, None)


@router.get(
    "/{slug}/versions", response={200: list[VersionOut], **errors_documented(401, 404, 422)}
)
@paginate(PageNumber, page_size=50)
def workflow_versions(request: HttpRequest, slug: str):
    workflow = get_object_or_404(Workflow, slug=slug)
    return workflow.versions.select_related("workflow", "created_by").defer("definition")


@router.post(
    "/{slug}/validate",
    response={200: ValidationOut, 422: InvalidOut, **errors_documented(404)},
    auth=None,
    summary="Validate a stored workflow against today's catalog and predict its run",
)
def workflow_validate_stored(request: HttpRequest, slug: str):
    workflow = get_object_or_404(_workflows(), slug=slug)
    if workflow.current_version is None:
        raise ApiError(404, f"workflow {slug!r} has no version", field="slug")
    return _validate_and_analyze(workflow.current_version.definition)


# Runs ------------------------------------------------------------------------------------------


class WorkflowRunIn(Schema):
    inputs: dict[str, Any] = Field(default_factory=dict, description="The workflow's inputs.")
    agent: str | None = Field(None, description="The slug of the agent asking.")


class StepOut(Schema):
    step_id: str
    index: int
    skill: str = Field(..., alias="skill.slug")
    status: str
    attempt: int
    max_attempts: int
    remaining_dependencies: int
    is_cached: bool
    timeout_seconds: float
    output_preview: str
    output: Any = None
    error_type: str
    error_message: str
    error_traceback: str
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    wall_seconds: float | None


class WorkflowRunOut(Schema):
    id: int
    workflow: str = Field(..., alias="workflow.slug")
    version: str = Field(..., alias="version.version")
    status: str
    inputs: dict[str, Any]
    is_cached: bool
    requested_by: str | None = Field(None, alias="requested_by.username")
    agent: str | None = Field(None, alias="agent.slug")
    error_type: str
    error_message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    ws_url: str = Field(..., description="Its live events over a websocket.")
    page_url: str = Field(..., description="Its live page.")
    events_url: str = Field(..., description="Its live events over HTTP (`?after=`).")


class WorkflowRunDetailOut(WorkflowRunOut):
    steps: list[StepOut]

    @staticmethod
    def resolve_steps(run: WorkflowRun) -> list[StepRun]:
        return list(run.steps.select_related("skill").order_by("index"))


class RunFilters(Schema):
    workflow: str | None = Field(None, description="A workflow's slug.")
    status: str | None = None


def _runs():
    return WorkflowRun.objects.select_related("workflow", "version", "requested_by", "agent")


def _run_for(request: HttpRequest, run_id: int, scope: str) -> WorkflowRun:
    scope_require(request, scope)
    run = get_object_or_404(_runs(), pk=run_id)
    if run.requested_by_id != request.user.pk and not request.user.is_staff:
        raise PermissionDenied("only the user who started a run, or staff, may see or change it")
    return run


@router.post(
    "/{slug}/runs",
    response={
        202: WorkflowRunOut,
        200: WorkflowRunOut,
        409: InvalidOut,
        **errors_documented(401, 403, 404, 422, 429),
    },
    auth=SIGNED_IN,
    summary="Run a workflow",
)
def workflow_run(request: HttpRequest, slug: str, payload: WorkflowRunIn):
    """202 with the queued run (follow it at `GET /workflow-runs/{id}` or its `ws_url`), 200
    when a cacheable workflow's result was reused; 409 when a step's skill cannot run now
    (deprecated, unapproved…: every problem listed); 422 naming the input at fault."""
    scope_require(request, "run")
    rate_limit(request, "workflow_starts")
    workflow = get_object_or_404(_workflows(), slug=slug)
    definition = workflow.current_version.definition if workflow.current_version else {}
    skill_slugs = {step.get("skill") for step in definition.get("steps", [])}
    skills = list(Skill.objects.filter(slug__in=skill_slugs))
    agent = key_agent_require(request, skills=skills, agent_slug=payload.agent)
    if agent is None and payload.agent is not None:
        agent = Agent.objects.filter(slug=payload.agent).first()
        if agent is None:
            raise ApiError(404, f"no such agent: {payload.agent}", field="agent")
    try:
        run = run_start(workflow, payload.inputs, agent=agent, requested_by=request.user)
    except (RunRefused, RunInputsInvalid) as error:
        raise refused(error) from None
    run = _runs().get(pk=run.pk)
    return Status(200 if run.is_finished else 202, run)


@runs_router.get("/", response={200: list[WorkflowRunOut], **errors_documented(401, 403, 422)})
@paginate(PageNumber, page_size=20)
def workflow_run_list(request: HttpRequest, filters: Query[RunFilters]):
    """Newest first; a user's own runs (staff: everyone's), by workflow and status."""
    scope_require(request, "read")
    runs = _runs()
    if not request.user.is_staff:
        runs = runs.filter(requested_by=request.user)
    if filters.workflow:
        runs = runs.filter(workflow__slug=filters.workflow)
    if filters.status:
        runs = runs.filter(status=filters.status)
    return runs.order_by("-created_at", "-id")


@runs_router.get(
    "/{run_id}", response={200: WorkflowRunDetailOut, **errors_documented(401, 403, 404, 422)}
)
def workflow_run_detail(request: HttpRequest, run_id: int):
    """The run with every step: status, attempts, timings, output (and a preview), error."""
    return _run_for(request, run_id, "read")


@runs_router.get(
    "/{run_id}/events", response={200: EventsPage, **errors_documented(401, 403, 404, 422)}
)
def workflow_run_events(
    request: HttpRequest,
    run_id: int,
    after: int = Query(0, ge=0, description="The last seq you have: events after it."),
    limit: int = Query(500, ge=1, le=500),
):
    """The run's live events after `after`, in order (docs/live-progress.md): the same events
    as its websocket, for clients without one."""
    run = _run_for(request, run_id, "read")
    kind = SUBJECT_KINDS["run"]
    try:
        follow_check(kind, run, user=request.user, key=request_api_key(request))
    except FollowRefused as refused:
        raise PermissionDenied(str(refused)) from None
    return events_page(kind, Subject("run", run.pk), run, after=after, limit=limit)


@runs_router.post(
    "/{run_id}/cancel", response={200: WorkflowRunOut, **errors_documented(401, 403, 404, 409, 422)}
)
def workflow_run_cancel(request: HttpRequest, run_id: int):
    """Cancel: pending steps cancelled, running ones killed; 409 when the run is finished."""
    run = _run_for(request, run_id, "run")
    try:
        return run_cancel(run=run)
    except RunStateConflict as conflict:
        raise refused(conflict) from None


@runs_router.post(
    "/{run_id}/retry", response={202: WorkflowRunOut, **errors_documented(401, 403, 404, 409, 422)}
)
def workflow_run_retry(request: HttpRequest, run_id: int):
    """Run a failed (or cancelled) run again from the steps that did not succeed, keeping the
    successful outputs; 409 when it is queued, running or succeeded."""
    run = _run_for(request, run_id, "run")
    try:
        run_retry(run=run)
    except RunStateConflict as conflict:
        raise refused(conflict) from None
    return Status(202, _runs().get(pk=run.pk))
