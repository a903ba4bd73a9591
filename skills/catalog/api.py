"""The skills API: the catalog, versions, history, import, approval and agent mappings."""

import io
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from atom_site.auth import SIGNED_IN, SIGNED_IN_OR_ANONYMOUS, scope_require, staff_require
from atom_site.errors import ApiError, ErrorOut, FieldErrorOut, errors_documented
from atom_site.pagination import PageNumber
from atom_site.rate_limits import rate_limit
from skills.catalog.bundles import bundle_export, sources_from_uploads
from skills.catalog.importer import ImportRefused, skills_import
from skills.catalog.transitions import (
    TransitionRefused,
    agent_mappings_change,
    skill_approve,
    skill_deprecate,
)
from skills.models import Agent, AgentKind, Skill, SkillStatus, SkillType

# Reading the catalog needs no sign-in, but a signed-in staff user (any way in) sees more.
router = Router(tags=["skills"], auth=SIGNED_IN_OR_ANONYMOUS)
agents_router = Router(tags=["agents"], auth=SIGNED_IN_OR_ANONYMOUS)


# Schemas -------------------------------------------------------------------------------------


class SkillVersionOut(Schema):
    version: str
    content_hash: str
    filename: str
    requirements: list[str]
    requires_python: str
    entrypoint: str
    timeout: float
    inputs_schema: dict[str, Any] | None
    created_at: datetime


class VersionDetailOut(SkillVersionOut):
    source: str
    metadata: dict[str, Any]


class SkillOut(Schema):
    slug: str
    category: str
    type: str
    status: str
    language: str
    description: str
    tags: list[str]
    version: str | None = Field(None, alias="current_version.version")
    content_hash: str
    install_count: int
    run_count: int
    updated_at: datetime


class SkillDetailOut(SkillOut):
    current_version: VersionDetailOut | None
    approved_at: datetime | None
    last_error: str
    agents: list[str]

    @staticmethod
    def resolve_agents(skill: Skill) -> list[str]:
        return [agent.slug for agent in skill.agents.all()]


class HistoryOut(Schema):
    action: str
    version: str | None = Field(None, alias="version.version")
    actor: str | None = Field(None, alias="actor.username")
    note: str
    created_at: datetime


class FileErrorOut(FieldErrorOut):
    # Absent from a 422 for the request itself (no `files`, say): not required.
    file: str = Field("", description="The file at fault (absent when the request was invalid).")
    line: int = Field(0, description="Its line, 0 for the whole file (absent likewise).")
    rule: str = Field("", description="The policy rule that refused it, if a policy did.")


class ImportErrorOut(ErrorOut):
    errors: list[FileErrorOut]


class ImportOut(Schema):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    summary: str


class SkillFilters(Schema):
    category: str | None = None
    type: SkillType | None = None
    status: SkillStatus | None = Field(
        None, description="Defaults to approved; other statuses need a staff user."
    )
    language: str | None = None


class AgentIn(Schema):
    slug: str = Field(..., pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$", max_length=64)
    name: str = Field(..., min_length=1, max_length=200)
    kind: AgentKind = AgentKind.SERVICE
    description: str = ""


class AgentOut(Schema):
    slug: str
    name: str
    kind: str
    description: str
    skills: list[str]

    @staticmethod
    def resolve_skills(agent: Agent) -> list[str]:
        return sorted(skill.slug for skill in agent.skills.all())


class MappingIn(Schema):
    add: list[str] = []
    remove: list[str] = []


# Catalog -------------------------------------------------------------------------------------


def _visible_skills(request: HttpRequest, status: str | None) -> QuerySet[Skill]:
    skills = Skill.objects.select_related("current_version")
    if status is None:
        return skills.filter(status=SkillStatus.APPROVED)
    if status != SkillStatus.APPROVED and not request.user.is_staff:
        raise PermissionDenied("only staff users may list skills that are not approved")
    return skills.filter(status=status)


@router.get("/", response={200: list[SkillOut], **errors_documented(401, 403, 422)})
@paginate(PageNumber, page_size=20)
def skill_list(request: HttpRequest, filters: Query[SkillFilters]):
    skills = _visible_skills(request, filters.status)
    if filters.category:
        skills = skills.filter(category=filters.category)
    if filters.type:
        skills = skills.filter(type=filters.type)
    if filters.language:
        skills = skills.filter(language=filters.language)
    return skills.order_by("slug")


@router.post(
    "/import",
    response={200: ImportOut, 422: ImportErrorOut, **errors_documented(401, 403, 429)},
    auth=SIGNED_IN,
    summary="Import skill files and bundles (all or nothing)",
)
def skill_import(request: HttpRequest, files: File[list[UploadedFile]], approve: bool = False):
    """Upload skill files (`.py`, `.js`, `.mjs`) and bundles (`.zip`) as `files`."""
    rate_limit(request, "imports")
    scope_require(request, "publish")
    staff_require(request, "change the catalog")
    sources, errors = sources_from_uploads(files)
    try:
        report = skills_import(sources=sources, errors=errors, actor=request.user, approve=approve)
    except ImportRefused as refused:
        raise ApiError(
            422,
            f"nothing imported: {len(refused.errors)} error(s)",
            errors=[error.as_dict() for error in refused.errors],
        ) from None
    return {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "summary": report.summary(),
    }


@router.get(
    "/export",
    response={200: None, **errors_documented(401, 404, 422)},
    summary="Download skills as a bundle (zip)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "A bundle (zip) of the skills' current versions",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def skill_export(request: HttpRequest, slug: list[str] = Query([])):  # noqa: B008 - ninja's way
    """The current version of each named skill (default: every visible one) as a bundle."""
    skills = Skill.objects.select_related("current_version").order_by("slug")
    if not request.user.is_staff:
        skills = skills.filter(status=SkillStatus.APPROVED)
    if slug:
        skills = skills.filter(slug__in=slug)
        missing = sorted(set(slug) - set(skills.values_list("slug", flat=True)))
        if missing:
            raise ApiError(404, f"no such skill(s): {', '.join(missing)}", field="slug")
    buffer = io.BytesIO()
    bundle_export(skills, buffer)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="atom-skills.zip"'
    return response


def _skill_or_404(request: HttpRequest, slug: str) -> Skill:
    skill = (
        Skill.objects.select_related("current_version")
        .prefetch_related("agents")
        .filter(slug=slug)
        .first()
    )
    if skill is None:
        raise ApiError(404, f"no such skill: {slug}", field="slug")
    if not skill.is_offered and not request.user.is_staff:
        raise PermissionDenied(f"{slug!r} is not approved")
    return skill


@router.get("/{slug}", response={200: SkillDetailOut, **errors_documented(401, 403, 404)})
def skill_detail(request: HttpRequest, slug: str):
    return _skill_or_404(request, slug)


@router.get(
    "/{slug}/versions",
    response={200: list[SkillVersionOut], **errors_documented(401, 403, 404, 422)},
)
@paginate(PageNumber, page_size=50)
def skill_versions(request: HttpRequest, slug: str):
    return _skill_or_404(request, slug).versions.order_by("-created_at", "-id")


@router.get(
    "/{slug}/versions/{version}",
    response={200: VersionDetailOut, **errors_documented(401, 403, 404)},
)
def skill_version_detail(request: HttpRequest, slug: str, version: str):
    skill = _skill_or_404(request, slug)
    found = skill.versions.filter(version=version).first()
    if found is None:
        raise ApiError(404, f"{slug} has no version {version!r}", field="version")
    return found


@router.get(
    "/{slug}/history", response={200: list[HistoryOut], **errors_documented(401, 403, 404, 422)}
)
@paginate(PageNumber, page_size=50)
def skill_history(request: HttpRequest, slug: str):
    skill = _skill_or_404(request, slug)
    return skill.history.select_related("version", "actor").order_by("-created_at", "-id")


# Changes -------------------------------------------------------------------------------------


def _skill_changing(slug: str) -> Skill:
    skill = Skill.objects.filter(slug=slug).first()
    if skill is None:
        raise ApiError(404, f"no such skill: {slug}", field="slug")
    return skill


@router.post(
    "/{slug}/approve",
    response={200: SkillDetailOut, **errors_documented(401, 403, 404, 409)},
    auth=SIGNED_IN,
)
def skill_approve_endpoint(request: HttpRequest, slug: str):
    scope_require(request, "publish")
    skill = _skill_changing(slug)
    try:
        return skill_approve(skill=skill, actor=request.user)
    except TransitionRefused as refused:
        raise ApiError(409, str(refused)) from None


@router.post(
    "/{slug}/deprecate",
    response={200: SkillDetailOut, **errors_documented(401, 403, 404, 409)},
    auth=SIGNED_IN,
)
def skill_deprecate_endpoint(request: HttpRequest, slug: str):
    scope_require(request, "publish")
    skill = _skill_changing(slug)
    try:
        return skill_deprecate(skill=skill, actor=request.user)
    except TransitionRefused as refused:
        raise ApiError(409, str(refused)) from None


# Agents --------------------------------------------------------------------------------------


@agents_router.get("/", response={200: list[AgentOut], **errors_documented(401, 422)})
@paginate(PageNumber, page_size=50)
def agent_list(request: HttpRequest):
    return Agent.objects.prefetch_related("skills").order_by("slug")


@agents_router.post(
    "/", response={201: AgentOut, **errors_documented(401, 403, 409, 422)}, auth=SIGNED_IN
)
def agent_create(request: HttpRequest, payload: AgentIn):
    scope_require(request, "admin")
    staff_require(request, "change the catalog")
    if Agent.objects.filter(slug=payload.slug).exists():
        raise ApiError(409, f"an agent named {payload.slug!r} exists", field="slug")
    return Status(201, Agent.objects.create(**payload.dict()))


@agents_router.get("/{slug}", response={200: AgentOut, **errors_documented(401, 404)})
def agent_detail(request: HttpRequest, slug: str):
    agent = Agent.objects.prefetch_related("skills").filter(slug=slug).first()
    if agent is None:
        raise ApiError(404, f"no such agent: {slug}", field="slug")
    return agent


@agents_router.post(
    "/{slug}/skills",
    response={200: AgentOut, **errors_documented(401, 403, 404, 422)},
    auth=SIGNED_IN,
    tags=["agents"],
)
def agent_skills_change(request: HttpRequest, slug: str, payload: MappingIn):
    scope_require(request, "admin")
    staff_require(request, "change the catalog")
    agent = Agent.objects.filter(slug=slug).first()
    if agent is None:
        raise ApiError(404, f"no such agent: {slug}", field="slug")
    wanted = set(payload.add) | set(payload.remove)
    skills = {skill.slug: skill for skill in Skill.objects.filter(slug__in=wanted)}
    missing = sorted(wanted - set(skills))
    if missing:
        raise ApiError(
            422,
            f"no such skill(s): {', '.join(missing)}",
            errors=[
                {"field": f"{name}.{index}", "message": f"no such skill: {asked}"}
                for name in ("add", "remove")
                for index, asked in enumerate(getattr(payload, name))
                if asked in missing
            ],
        )
    agent_mappings_change(
        agent=agent,
        add=[skills[s] for s in payload.add],
        remove=[skills[s] for s in payload.remove],
        actor=request.user,
    )
    return Agent.objects.prefetch_related("skills").get(pk=agent.pk)
