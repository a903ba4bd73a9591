"""The installs API: request installs (one skill or a batch), follow a job, read an environment,
and resolve a set of skills' dependencies together. Mounted at the API root."""

from dataclasses import asdict
from datetime import datetime
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from atom_site.auth import SIGNED_IN, key_agent_require, scope_require
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


class ProblemOut(Schema):
    skill: str
    requirement: str
    rule: str
    message: str


class RefusedOut(Schema):
    detail: str
    problems: list[ProblemOut]


class MessageOut(Schema):
    detail: str


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


class ConflictsOut(Schema):
    detail: str
    conflicts: list[ConflictOut]


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


def _skill_versions(request: HttpRequest, slugs: list[str], version: str | None = None):
    """The versions to install, refusing unknown skills and (for non-staff) unapproved ones."""
    skills = {skill.slug: skill for skill in Skill.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in skills]
    if missing:
        return None, f"no such skill(s): {', '.join(missing)}"
    versions = []
    for slug in dict.fromkeys(slugs):
        skill = skills[slug]
        if not skill.is_offered and not request.user.is_staff:
            raise PermissionDenied(f"{slug} is not approved; only staff users may install it")
        if version is not None:
            found = SkillVersion.objects.filter(skill=skill, version=version).first()
            if found is None:
                return None, f"{slug} has no version {version!r}"
        else:
            found = skill.current_version
            if found is None:
                return None, f"{slug} has no version to install"
        found.skill = skill
        versions.append(found)
    return versions, ""


def _agent(slug: str | None) -> tuple[Agent | None, str]:
    if slug is None:
        return None, ""
    agent = Agent.objects.filter(slug=slug).first()
    return agent, "" if agent else f"no such agent: {slug}"


def _request(request: HttpRequest, slugs: list[str], version: str | None, agent_slug: str | None):
    scope_require(request, "install")
    versions, missing = _skill_versions(request, slugs, version)
    if missing:
        return Status(404, {"detail": missing})
    # A key bound to an agent installs for that agent, and only the skills mapped to it.
    agent = key_agent_require(
        request, skills=[version.skill for version in versions], agent_slug=agent_slug
    )
    if agent is None:
        agent, unknown_agent = _agent(agent_slug)
        if unknown_agent:
            return Status(404, {"detail": unknown_agent})
    try:
        result = install_request(skill_versions=versions, agent=agent)
    except InstallConflict as conflict:
        detail = "; ".join(f"{found.package}: {found.reason}" for found in conflict.conflicts)
        conflicts = [asdict(found) for found in conflict.conflicts]
        return Status(409, {"detail": detail, "conflicts": conflicts})
    except InstallRefused as refused:
        return Status(422, {"detail": str(refused), "problems": refused.problems})
    except InterpreterError as error:
        return Status(503, {"detail": str(error)})
    return result


# Operations ----------------------------------------------------------------------------------


@router.post(
    "/",
    response={
        200: InstallJobOut,
        202: InstallJobOut,
        404: MessageOut,
        409: ConflictsOut,
        422: RefusedOut,
        503: MessageOut,
    },
    auth=SIGNED_IN,
)
def install_create(request: HttpRequest, payload: InstallIn):
    """Install one skill's environment: 200 with a finished job on a cache hit, else 202 with
    the queued job to follow at `GET /installs/{id}`; 422 names each refused requirement and
    the rule that refused it; 409 when the skill's own requirements contradict each other;
    503 when this host's interpreter for the skill's language does not run."""
    result = _request(request, [payload.skill], payload.version, payload.agent)
    if isinstance(result, Status):
        return result
    [job] = result.jobs
    return Status(200 if job.is_finished else 202, job_out(job))


@router.post(
    "/batch",
    response={
        202: BatchOut,
        404: MessageOut,
        409: ConflictsOut,
        422: RefusedOut,
        503: MessageOut,
    },
    auth=SIGNED_IN,
)
def install_batch_create(request: HttpRequest, payload: BatchIn):
    """Install many skills: one job per distinct environment, built in parallel."""
    result = _request(request, payload.skills, None, payload.agent)
    if isinstance(result, Status):
        return result
    return Status(202, {"batch": result.batch, "jobs": [job_out(job) for job in result.jobs]})


@router.get("/{job_id}", response={200: InstallJobOut}, auth=None)
def install_detail(request: HttpRequest, job_id: int, log_after: int = Query(0)):
    """A job's status, timings and log (lines after `log_after`, to follow it live)."""
    job = get_object_or_404(InstallJob.objects.select_related("environment", "agent"), pk=job_id)
    return job_out(job, log_after=log_after)


@router.post("/{job_id}/retry", response={202: InstallJobOut, 409: MessageOut}, auth=SIGNED_IN)
def install_retry(request: HttpRequest, job_id: int):
    """Queue a failed job again (after the index came back, say)."""
    scope_require(request, "install")
    job = get_object_or_404(InstallJob, pk=job_id)
    key_agent_require(request, skills=job.skills.all())
    if job.status != InstallJobStatus.FAILED:
        return Status(409, {"detail": f"job {job_id} is {job.status}; only failed jobs retry"})
    return Status(202, job_out(install_job_retry(job_pk=job.pk)))


@environments_router.get("/{key}", response={200: EnvironmentOut}, auth=None)
def environment_detail(request: HttpRequest, key: str):
    """An environment: its status, location, lockfile (pins with hashes), size and uses."""
    return environment_out(get_object_or_404(Environment, key=key))


@dependencies_router.post(
    "/resolve",
    response={
        200: ResolutionOut,
        404: MessageOut,
        409: ResolutionOut,
        422: RefusedOut,
        503: MessageOut,
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
        return Status(
            422, {"detail": "give either skills or requirements/node_requirements", "problems": []}
        )
    if payload.skills is not None:
        versions, missing = _skill_versions(request, payload.skills)
        if missing:
            return Status(404, {"detail": missing})
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
        return Status(422, {"detail": str(refused), "problems": refused.problems})
    except IndexUnreachableError as error:
        return Status(503, {"detail": error.message})
    except InterpreterError as error:
        return Status(503, {"detail": str(error)})
    return Status(200 if resolution.ok else 409, resolution.as_dict())
