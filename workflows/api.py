"""The workflows API: definitions, their versions, and validation with the pre-run analysis.

Reads are public (as the catalog is); writes need a signed-in staff user (a key with the
`publish` scope), as the skills API's do. Every endpoint is one call into the domain modules.
"""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Body, Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from atom_site.auth import SIGNED_IN, SIGNED_IN_OR_ANONYMOUS, scope_require, staff_require
from workflows.analysis import workflow_analyze
from workflows.errors import DefinitionInvalid, WorkflowSlugTaken
from workflows.models import Workflow
from workflows.services import workflow_delete, workflow_save
from workflows.validation import definition_validate

router = Router(tags=["workflows"], auth=SIGNED_IN_OR_ANONYMOUS)

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


class WorkflowErrorOut(Schema):
    code: str
    step: str
    index: int | None
    field: str
    message: str


class InvalidOut(Schema):
    detail: str
    errors: list[WorkflowErrorOut]


class MessageOut(Schema):
    detail: str


class ValidationOut(Schema):
    ok: bool
    slug: str
    step_count: int
    analysis: dict[str, Any]


def _invalid(invalid: DefinitionInvalid) -> Status:
    return Status(
        422,
        {
            "detail": f"{len(invalid.errors)} error(s) in the workflow definition",
            "errors": [error.as_dict() for error in invalid.errors],
        },
    )


def _validate_and_analyze(definition: Any) -> Status | dict:
    try:
        validated = definition_validate(definition=definition)
    except DefinitionInvalid as invalid:
        return _invalid(invalid)
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


@router.get("/", response=list[WorkflowOut])
@paginate(PageNumberPagination, page_size=20)
def workflow_list(request: HttpRequest):
    return _workflows().defer("current_version__definition").order_by("slug")


@router.post(
    "/",
    response={201: SavedOut, 409: MessageOut, 422: InvalidOut},
    auth=SIGNED_IN,
    summary="Create a workflow from a definition",
)
def workflow_create(request: HttpRequest, definition: dict[str, Any] = DEFINITION):
    _writer_check(request)
    try:
        outcome = workflow_save(definition=definition, actor=request.user, create_only=True)
    except DefinitionInvalid as invalid:
        return _invalid(invalid)
    except WorkflowSlugTaken as taken:
        return Status(409, {"detail": str(taken)})
    return Status(201, {"change": outcome.change, "workflow": outcome.workflow})


@router.post(
    "/validate",
    response={200: ValidationOut, 422: InvalidOut},
    summary="Validate a definition and predict its run",
)
def workflow_validate(request: HttpRequest, definition: dict[str, Any] = DEFINITION):
    """200 with the analysis (depth, width, generations, critical path, estimate, environments
    to build, conflicts), or 422 listing every error, each naming its step and field."""
    return _validate_and_analyze(definition)


@router.get("/{slug}", response=WorkflowDetailOut)
def workflow_detail(request: HttpRequest, slug: str):
    return get_object_or_404(_workflows(), slug=slug)


@router.put(
    "/{slug}",
    response={200: SavedOut, 409: MessageOut, 422: InvalidOut},
    auth=SIGNED_IN,
    summary="Change a workflow: a new version, or nothing when the definition is unchanged",
)
def workflow_update(request: HttpRequest, slug: str, definition: dict[str, Any] = DEFINITION):
    _writer_check(request)
    get_object_or_404(Workflow, slug=slug)
    definition = {"slug": slug, **definition}
    try:
        outcome = workflow_save(definition=definition, actor=request.user, slug=slug)
    except DefinitionInvalid as invalid:
        return _invalid(invalid)
    except WorkflowSlugTaken as taken:
        return Status(409, {"detail": str(taken)})
    return {"change": outcome.change, "workflow": outcome.workflow}


@router.delete("/{slug}", response={204: None}, auth=SIGNED_IN)
def workflow_remove(request: HttpRequest, slug: str):
    _writer_check(request)
    workflow_delete(workflow=get_object_or_404(Workflow, slug=slug))
    return Status(204, None)


@router.get("/{slug}/versions", response=list[VersionOut])
def workflow_versions(request: HttpRequest, slug: str):
    workflow = get_object_or_404(Workflow, slug=slug)
    return workflow.versions.select_related("workflow", "created_by").defer("definition")


@router.post(
    "/{slug}/validate",
    response={200: ValidationOut, 404: MessageOut, 422: InvalidOut},
    summary="Validate a stored workflow against today's catalog and predict its run",
)
def workflow_validate_stored(request: HttpRequest, slug: str):
    workflow = get_object_or_404(_workflows(), slug=slug)
    if workflow.current_version is None:
        return Status(404, {"detail": f"workflow {slug!r} has no version"})
    return _validate_and_analyze(workflow.current_version.definition)
