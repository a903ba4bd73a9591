"""The installs API: request installs (one skill or a batch), follow a job, read an environment,
and resolve a set of skills' dependencies together. Mounted at the API root."""

from dataclasses import asdict
from datetime import datetime
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from atom_site.auth import SIGNED_IN, key_agent_require, scope_require
from atom_site.errors import ApiError, ErrorOut, FieldErrorOut, errors_documented
from atom_site.events.read import SUBJECT_KINDS, events_page
from atom_site.events.record import Subject
from atom_site.pagination import EventsPage
from atom_site.rate_limits import rate_limit
from skills.installer.backends import IndexUnreachableError
from skills.installer.jobs import (
    InstallConflict,
    InstallRefused,
    install_job_retry,
    install_request,
)
from skills.installer.keys import InterpreterError
from skills.installer.resolution import ResolutionRefused, dependencies_resolve
from skills.models import (
    Agent,
    Environment,
    InstallJob,
    InstallJobStatus,
    Skill,
    SkillVersion,
)

router = Router(tags=["installs"])
environments_router = Router(tags=["installs"])
dependencies_router = Router(tags=["installs"])


# Schemas -------------------------------------------------------------------------------------


class InstallIn(Schema):
    skill: str = Field(..., description="The skill's slug.")
    version: str | None = Field(None, description="Defaults to the skill's current version.")
    agent: str | None = Field(None, description="The slug of the agent asking.")


class BatchIn(Schema):
    skills: list[str] = Field(..., min_length=1, max_length=500, description="Skill slugs.")
    agent: str | None = None


class ProblemOut(FieldErrorOut):
    # A 422 for the request itself (a missing `skill`, say) has no requirement to name: the
    # three are absent there, so not required.
    skill: str = Field(
        "", description="The skill (slug and version), or the requirement set's label."
    )
    requirement: str = Field("", description="The requirement refused.")
    rule: str = Field("", description="The policy rule that refused it.")


class RefusedOut(ErrorOut):
    errors: list[ProblemOut]


def _refused(refused: Exception, problems: list[dict[str, str]], field: str) -> ApiError:
    """A 422 naming each refused requirement: `field` is the input that asked for it."""
    return ApiError(422, str(refused), errors=[{"field": field, **problem} for problem in problems])


class EnvironmentSummaryOut(Schema):
    key: str
    backend: str
    status: str
    location: str


class EnvironmentOut(EnvironmentSummaryOut):
    language: str
    requirements: list[str]
    interpreter: str
    platform: str
    policy_version: str
    python_path: str | None
    lockfile: str
    size_bytes: int | None
    build_seconds: float | None
    build_count: int
    error: str
    created_at: datetime
    ready_at: datetime | None
    last_used_at: datetime | None
    use_count: int


class LogLineOut(Schema):
    id: int
    created_at: datetime
    text: str


class InstallJobOut(Schema):
    id: int
    batch: UUID | None
    status: str
    cache_hit: bool | None
    environment: EnvironmentSummaryOut
    skills: list[str]
    agent: str | None
    attempts: int
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    resolve_seconds: float | None
    install_seconds: float | None
    verify_seconds: float | None
    total_seconds: float | None
    log: list[LogLineOut]


class BatchOut(Schema):
    batch: UUID | None
    jobs: list[InstallJobOut]


class ResolveIn(Schema):
    skills: list[str] | None = Field(
        None,
        max_length=1000,
        description="Skill slugs (their current versions); Python and Node skills may be mixed.",
    )
    requirements: dict[str, list[str]] | None = Field(
        None, description="Labelled Python requirement sets, e.g. a workflow's steps."
    )
    node_requirements: dict[str, list[str]] | None = Field(
        None, description="Labelled npm requirement sets (`name@range`)."
    )
    explain: bool = Field(
        False, description="Run the resolver even after a pre-check conflict, for its wording."
    )


class PackageRequestOut(Schema):
    skill: str
    specifier: str


class ConflictOut(Schema):
    package: str
    language: str
    requests: list[PackageRequestOut]
    reason: str


class PinOut(Schema):
    name: str
    version: str
    language: str


class LanguageResolutionOut(Schema):
    ok: bool
    stage: str
    language: str
    conflicts: list[ConflictOut]
    resolver_output: str
    lockfile: str
    packages: list[PinOut]
    precheck_seconds: float
    resolve_seconds: float


class ResolutionOut(LanguageResolutionOut):
    languages: list[LanguageResolutionOut] = Field(
        description="One answer per language when the request mixed Python and Node."
    )


class ConflictsOut(ErrorOut):
    conflicts: list[ConflictOut]


class ResolutionConflictOut(ResolutionOut, ErrorOut):
    """A resolution that found conflicts: the resolution, with the error shape's keys."""


def job_out(job: InstallJob, *, log_after: int = 0) -> dict:
    environment = job.environment
    return {
        "id": job.pk,
        "batch": job.batch,
        "status": job.status,
        "cache_hit": job.cache_hit,
        "environment": {
            "key": environment.key,
            "backend": environment.backend,
            "status": environment.status,
            "location": environment.location,
        },
        "skills": sorted(job.skills.values_list("slug", flat=True)),
        "agent": job.agent.slug if job.agent_id else None,
        "attempts": job.attempts,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "resolve_seconds": job.resolve_seconds,
        "install_seconds": job.install_seconds,
        "verify_seconds": job.verify_seconds,
        "total_seconds": job.total_seconds,
        "log": list(
            job.log_lines.filter(pk__gt=log_after).values("id", "created_at", "text")[:5_000]
        ),
    }


def environment_out(environment: Environment) -> dict:
    data = {field: getattr(environment, field) for field in EnvironmentOut.model_fields}
    data["python_path"] = str(environment.python_path) if environment.python_path else None
    return data


def _skill_versions(
    request: HttpRequest, slugs: list[str], version: str | None = None, *, field: str
) -> list[SkillVersion]:
    """The versions to install, refusing unknown skills (404) and, for non-staff, unapproved
    ones (403)."""
    skills = {skill.slug: skill for skill in Skill.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in skills]
    if missing:
        raise ApiError(404, f"no such skill(s): {', '.join(missing)}", field=field)
    versions = []
    for slug in dict.fromkeys(slugs):
        skill = skills[slug]
        if not skill.is_offered and not request.user.is_staff:
            raise PermissionDenied(f"{slug} is not approved; only staff users may install it")
        if version is not None:
            found = SkillVersion.objects.filter(skill=skill, version=version).first()
            if found is None:
                raise ApiError(404, f"{slug} has no version {version!r}", field="version")
        else:
            found = skill.current_version
            if found is None:
                raise ApiError(404, f"{slug} has no version to install", field=field)
        found.skill = skill
        versions.append(found)
    return versions


def _request(
    request: HttpRequest, slugs: list[str], version: str | None, agent_slug: str | None, field: str
):
    rate_limit(request, "installs")
    scope_require(request, "install")
    versions = _skill_versions(request, slugs, version, field=field)
    # A key bound to an agent installs for that agent, and only the skills mapped to it.
    agent = key_agent_require(
        request, skills=[version.skill for version in versions], agent_slug=agent_slug
    )
    if agent is None and agent_slug is not None:
        agent = Agent.objects.filter(slug=agent_slug).first()
        if agent is None:
            raise ApiError(404, f"no such agent: {agent_slug}", field="agent")
    try:
        return install_request(skill_versions=versions, agent=agent)
    except InstallConflict as conflict:
        detail = "; ".join(f"{found.package}: {found.reason}" for found in conflict.conflicts)
        conflicts = [asdict(found) for found in conflict.conflicts]
        raise ApiError(409, detail, conflicts=conflicts) from None
    except InstallRefused as refused:
        raise _refused(refused, refused.problems, field) from None
    except InterpreterError as error:
        raise ApiError(503, str(error)) from None


# Operations ----------------------------------------------------------------------------------


@router.post(
    "/",
    response={
        200: InstallJobOut,
        202: InstallJobOut,
        409: ConflictsOut,
        422: RefusedOut,
        **errors_documented(401, 403, 404, 429, 503),
    },
    auth=SIGNED_IN,
)
def install_create(request: HttpRequest, payload: InstallIn):
    """Install one skill's environment: 200 with a finished job on a cache hit, else 202 with
    the queued job to follow at `GET /installs/{id}`; 422 names each refused requirement and
    the rule that refused it; 409 when the skill's own requirements contradict each other;
    503 when this host's interpreter for the skill's language does not run."""
    result = _request(request, [payload.skill], payload.version, payload.agent, "skill")
    [job] = result.jobs
    return Status(200 if job.is_finished else 202, job_out(job))


@router.post(
    "/batch",
    response={
        202: BatchOut,
        409: ConflictsOut,
        422: RefusedOut,
        **errors_documented(401, 403, 404, 429, 503),
    },
    auth=SIGNED_IN,
)
def install_batch_create(request: HttpRequest, payload: BatchIn):
    """Install many skills: one job per distinct environment, built in parallel."""
    result = _request(request, payload.skills, None, payload.agent, "skills")
    return Status(202, {"batch": result.batch, "jobs": [job_out(job) for job in result.jobs]})


@router.get("/{job_id}", response={200: InstallJobOut, **errors_documented(404, 422)}, auth=None)
def install_detail(request: HttpRequest, job_id: int, log_after: int = Query(0)):
    """A job's status, timings and log (lines after `log_after`, to follow it live)."""
    job = InstallJob.objects.select_related("environment", "agent").filter(pk=job_id).first()
    if job is None:
        raise ApiError(404, f"no install job {job_id}", field="job_id")
    return job_out(job, log_after=log_after)


@router.get(
    "/{job_id}/events", response={200: EventsPage, **errors_documented(404, 422)}, auth=None
)
def install_events(
    request: HttpRequest,
    job_id: int,
    after: int = Query(0, ge=0, description="The last seq you have: events after it."),
    limit: int = Query(500, ge=1, le=500),
):
    """The job's live events after `after` (status changes and batches of log lines), as its
    websocket sends them (docs/live-progress.md)."""
    kind = SUBJECT_KINDS["install"]
    job = kind.load(job_id)
    if job is None:
        raise ApiError(404, f"no install job {job_id}", field="job_id")
    return events_page(kind, Subject("install", job.pk), job, after=after, limit=limit)


@router.post(
    "/{job_id}/retry",
    response={202: InstallJobOut, **errors_documented(401, 403, 404, 409, 422, 429)},
    auth=SIGNED_IN,
)
def install_retry(request: HttpRequest, job_id: int):
    """Queue a failed job again (after the index came back, say)."""
    rate_limit(request, "installs")
    scope_require(request, "install")
    job = InstallJob.objects.filter(pk=job_id).first()
    if job is None:
        raise ApiError(404, f"no install job {job_id}", field="job_id")
    key_agent_require(request, skills=job.skills.all())
    if job.status != InstallJobStatus.FAILED:
        raise ApiError(409, f"job {job_id} is {job.status}; only failed jobs retry")
    return Status(202, job_out(install_job_retry(job_pk=job.pk)))


@environments_router.get(
    "/{key}", response={200: EnvironmentOut, **errors_documented(404)}, auth=None
)
def environment_detail(request: HttpRequest, key: str):
    """An environment: its status, location, lockfile (pins with hashes), size and uses."""
    environment = Environment.objects.filter(key=key).first()
    if environment is None:
        raise ApiError(404, f"no environment {key}", field="key")
    return environment_out(environment)


@dependencies_router.post(
    "/resolve",
    response={
        200: ResolutionOut,
        409: ResolutionConflictOut,
        422: RefusedOut,
        **errors_documented(401, 403, 404, 503),
    },
    auth=SIGNED_IN,
    tags=["dependencies"],
)
def dependencies_resolve_view(request: HttpRequest, payload: ResolveIn):
    """Resolve skills' requirements together, each language apart (uv for Python, npm for
    Node): 200 with the pins, 409 with each conflict (package, which skill asks which
    specifier) and the resolver's explanation verbatim."""
    scope_require(request, "install")
    labelled = payload.requirements is not None or payload.node_requirements is not None
    if (payload.skills is None) == (not labelled):
        raise ApiError(422, "give either skills or requirements/node_requirements", field="skills")
    if payload.skills is not None:
        versions = _skill_versions(request, payload.skills, field="skills")
        python, node = {}, {}
        for version in versions:
            sets = node if version.skill.language == "node" else python
            sets[version.skill.slug] = list(version.requirements)
    else:
        python, node = payload.requirements, payload.node_requirements
    try:
        resolution = dependencies_resolve(
            requirement_sets=python, node_requirement_sets=node, explain=payload.explain
        )
    except ResolutionRefused as refused:
        field = "skills" if payload.skills is not None else "requirements"
        raise _refused(refused, refused.problems, field) from None
    except IndexUnreachableError as error:
        raise ApiError(503, error.message) from None
    except InterpreterError as error:
        raise ApiError(503, str(error)) from None
    if resolution.ok:
        return Status(200, resolution.as_dict())
    detail = (
        "; ".join(f"{conflict.package}: {conflict.reason}" for conflict in resolution.conflicts)
        or "the requirements conflict"
    )
    return Status(409, {**resolution.as_dict(), "detail": detail, "errors": []})
