"""Install jobs: a request for the environments of one or many skills, recorded and run by
django-q2 workers (or in-process by a caller that wants to wait).

A request validates every skill first (nothing is recorded when one is refused), groups the
skills by environment key (one job per distinct key), answers cache hits at once, and enqueues
the rest after the transaction commits: one `install_environment_task` for a single job, one
`install_batch_task` for a batch, which builds its jobs in parallel threads, at most
`MAX_CONCURRENT_INSTALLATIONS` at a time.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from atom_site.events.record import Subject, events_record, log_lines_flush
from skills.installer.backends import BackendUnavailable, InstallError
from skills.installer.builder import (
    environment_mark_used,
    environment_obtain,
    environment_ready_lookup,
    environment_row_for,
    job_log_writer,
    spec_for,
)
from skills.installer.keys import EnvironmentSpec
from skills.installer.resolution import Conflict, conflicts_precheck
from skills.models import (
    Agent,
    Environment,
    InstallJob,
    InstallJobStatus,
    InstallLogLine,
    Skill,
    SkillVersion,
)
from skills.policy import PolicyError, PolicyViolation
from skills.requirements import RequirementError


class InstallRefused(ValueError):
    """A request refused before anything was recorded: each problem names its skill."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['skill']}: {p['message']}" for p in problems))
        self.problems = problems


class InstallConflict(InstallRefused):
    """A skill whose own requirements contradict each other: no environment can satisfy them,
    so nothing is recorded or built. A refusal too (rule "conflict", one problem per
    requirement involved), for callers that handle every refusal alike."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(
            [
                {
                    "skill": request.skill,
                    "requirement": request.specifier,
                    "rule": "conflict",
                    "message": f"{conflict.package}: {conflict.reason}",
                }
                for conflict in conflicts
                for request in conflict.requests
            ]
        )
        self.conflicts = conflicts


@dataclass
class InstallRequestResult:
    batch: uuid.UUID | None
    jobs: list[InstallJob]


def skill_version_spec(skill_version: SkillVersion) -> EnvironmentSpec:
    return spec_for(
        language=skill_version.skill.language, requirements=list(skill_version.requirements)
    )


def _label(skill_version: SkillVersion) -> str:
    return f"{skill_version.skill.slug} {skill_version.version}"


def _problems_of(skill_version: SkillVersion, error: Exception) -> list[dict[str, str]]:
    label = _label(skill_version)
    if isinstance(error, PolicyError):
        violations: list[PolicyViolation] = error.violations
        return [
            {
                "skill": label,
                "requirement": violation.requirement,
                "rule": violation.rule,
                "message": violation.message,
            }
            for violation in violations
        ]
    if isinstance(error, RequirementError):
        return [
            {
                "skill": label,
                "requirement": error.requirement,
                "rule": "valid-requirement",
                "message": str(error),
            }
        ]
    return [{"skill": label, "requirement": "", "rule": "", "message": str(error)}]


def install_request(
    *, skill_versions: list[SkillVersion], agent: Agent | None = None, run_now: bool = False
) -> InstallRequestResult:
    """Record install jobs for these skill versions and have them built.

    Raises `InstallRefused` (nothing recorded) when any version's requirements are invalid or
    refused by policy, and `InstallConflict` when a version's own requirements contradict each
    other (the in-memory pre-check; the resolver's findings fail the job instead). With
    `run_now` the jobs run in this process before returning (the management command,
    notebooks); otherwise they are enqueued after the commit.
    """
    specs: dict[str, EnvironmentSpec] = {}
    members: dict[str, list[SkillVersion]] = {}
    problems: list[dict[str, str]] = []
    for skill_version in skill_versions:
        try:
            spec = skill_version_spec(skill_version)
        except (PolicyError, RequirementError) as error:
            problems.extend(_problems_of(skill_version, error))
            continue
        specs.setdefault(spec.key, spec)
        members.setdefault(spec.key, []).append(skill_version)
    if problems:
        raise InstallRefused(problems)
    conflicts = [
        conflict
        for skill_version in skill_versions
        for conflict in conflicts_precheck(
            requirement_sets={_label(skill_version): list(skill_version.requirements)},
            language=skill_version.skill.language,
        )
    ]
    if conflicts:
        raise InstallConflict(conflicts)
    batch = uuid.uuid4() if len(skill_versions) > 1 else None
    jobs: list[InstallJob] = []
    queued: list[int] = []
    with transaction.atomic():
        # Popularity (the marketplace's sort): one more install asked for each skill.
        Skill.objects.filter(pk__in={version.skill_id for version in skill_versions}).update(
            install_count=F("install_count") + 1
        )
        for key, spec in specs.items():
            environment = environment_row_for(spec)
            try:
                ready = environment_ready_lookup(key=key)
            except BackendUnavailable:
                ready = None  # queued: its build says in one line that no engine answers
            job = InstallJob.objects.create(
                batch=batch,
                environment=environment,
                agent=agent,
                status=InstallJobStatus.SUCCEEDED if ready else InstallJobStatus.QUEUED,
                cache_hit=True if ready else None,
                started_at=timezone.now() if ready else None,
                finished_at=timezone.now() if ready else None,
                total_seconds=0.0 if ready else None,
            )
            job.skill_versions.set(members[key])
            job.skills.set({version.skill_id for version in members[key]})
            if ready:
                environment_mark_used(environment=ready)
                InstallLogLine.objects.create(job=job, text=f"cache hit: {ready.location}")
                events_record(
                    Subject("install", job.pk),
                    [("log", {"lines": [f"cache hit: {ready.location}"]}),
                     install_entry(InstallJobStatus.SUCCEEDED)],
                )  # fmt: skip
            else:
                events_record(Subject("install", job.pk), [install_entry(InstallJobStatus.QUEUED)])
                queued.append(job.pk)
            jobs.append(job)
        if queued and not run_now:
            transaction.on_commit(lambda: install_jobs_enqueue(job_pks=queued))
    if queued and run_now:
        install_batch_run(job_pks=queued)
        for job in jobs:
            job.refresh_from_db()
    return InstallRequestResult(batch=batch, jobs=jobs)


def install_job_for_requirements(
    *, language: str, requirements: list[str], backend: str | None = None
) -> InstallJob:
    """A queued job for the environment of a requirement set, for the caller to run itself
    (`install_job_run`: the command line's `envs ensure`, followed by its events). Raises
    `RequirementError` or `PolicyError` before anything is written."""
    spec = spec_for(language=language, requirements=requirements, backend=backend)
    with transaction.atomic():
        job = InstallJob.objects.create(environment=environment_row_for(spec))
        events_record(Subject("install", job.pk), [install_entry(InstallJobStatus.QUEUED)])
    return job


def install_jobs_enqueue(*, job_pks: list[int]) -> None:
    from django_q.tasks import async_task

    if len(job_pks) == 1:
        async_task("skills.installer.tasks.install_environment_task", job_pks[0], group="installs")
    else:
        async_task("skills.installer.tasks.install_batch_task", job_pks, group="installs")


def install_job_run(*, job_pk: int) -> InstallJob:
    """Run one queued job to its end (idempotent: a job already taken is left alone).

    The policy is checked again here, against the rules in force now: a package denied after
    the job was queued is never installed.
    """
    started = time.perf_counter()
    with transaction.atomic():
        taken = InstallJob.objects.filter(pk=job_pk, status=InstallJobStatus.QUEUED).update(
            status=InstallJobStatus.RUNNING,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
            error="",
        )
        if taken:
            events_record(Subject("install", job_pk), [install_entry(InstallJobStatus.RUNNING)])
    job = InstallJob.objects.select_related("environment").get(pk=job_pk)
    if not taken:
        return job
    log = job_log_writer(job)
    environment = job.environment
    try:
        spec = spec_for(
            language=environment.language,
            requirements=list(environment.requirements),
            backend=environment.backend,
        )
        if spec.key != environment.key:
            # The settings changed since the request (interpreter, policy): build what they
            # describe now, and point the job at it.
            environment = environment_row_for(spec)
            InstallJob.objects.filter(pk=job_pk).update(environment=environment)
            log(f"settings changed since the request: building {spec.key[:12]} instead")
        environment_obtain(spec=spec, job=job)
    except (InstallError, PolicyError, RequirementError) as error:
        message = error.message if isinstance(error, InstallError) else str(error)
        _job_finish(job_pk=job_pk, started=started, error=message)
    except Exception as error:
        _job_finish(job_pk=job_pk, started=started, error=f"{type(error).__name__}: {error}")
        raise
    else:
        _job_finish(job_pk=job_pk, started=started, error="")
    return InstallJob.objects.get(pk=job_pk)


def install_entry(status: str, error: str = "") -> tuple[str, dict[str, str]]:
    """An install job's state change as a live event (atom_site/events)."""
    return "install", {"status": status, "error": error}


def _job_finish(*, job_pk: int, started: float, error: str) -> None:
    subject = Subject("install", job_pk)
    log_lines_flush(subject)  # the build's lines come before its outcome
    status = InstallJobStatus.FAILED if error else InstallJobStatus.SUCCEEDED
    with transaction.atomic():
        finished = InstallJob.objects.filter(pk=job_pk, status=InstallJobStatus.RUNNING).update(
            status=status,
            error=error,
            finished_at=timezone.now(),
            total_seconds=time.perf_counter() - started,
        )
        entries = []
        if error:
            InstallLogLine.objects.create(job_id=job_pk, text=f"failed: {error}")
            entries.append(("log", {"lines": [f"failed: {error}"[:10_000]]}))
        if finished:
            entries.append(install_entry(status, error))
        events_record(subject, entries)


def install_batch_run(*, job_pks: list[int]) -> list[InstallJob]:
    """Run several jobs in parallel threads, at most `MAX_CONCURRENT_INSTALLATIONS` at once.

    The work happens in uv/pip/npm child processes, so threads are enough to overlap them.
    """
    if len(job_pks) == 1 or settings.MAX_CONCURRENT_INSTALLATIONS == 1 or _sqlite_in_memory():
        return [install_job_run(job_pk=pk) for pk in job_pks]

    def run(pk: int) -> InstallJob:
        try:
            return install_job_run(job_pk=pk)
        finally:
            connection.close()

    workers = min(settings.MAX_CONCURRENT_INSTALLATIONS, len(job_pks))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="install") as pool:
        return list(pool.map(run, job_pks))


def _sqlite_in_memory() -> bool:
    name = str(connection.settings_dict.get("NAME", ""))
    return connection.vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name)


def install_job_retry(*, job_pk: int) -> InstallJob:
    """Queue a failed job again (a 409-free no-op for a job that is not failed)."""
    with transaction.atomic():
        retried = InstallJob.objects.filter(pk=job_pk, status=InstallJobStatus.FAILED).update(
            status=InstallJobStatus.QUEUED, error="", finished_at=None, cache_hit=None
        )
        if retried:
            InstallLogLine.objects.create(job_id=job_pk, text="retry requested")
            events_record(
                Subject("install", job_pk),
                [("log", {"lines": ["retry requested"]}), install_entry(InstallJobStatus.QUEUED)],
            )
            transaction.on_commit(lambda: install_jobs_enqueue(job_pks=[job_pk]))
    return InstallJob.objects.get(pk=job_pk)


def environment_rebuild(*, environment_pk: int, agent: Agent | None = None) -> InstallJob:
    """Build an environment again (its files are replaced when the new build is whole)."""
    with transaction.atomic():
        Environment.objects.filter(
            Q(status="ready") | Q(status="failed"), pk=environment_pk
        ).update(status="pending", error="rebuild requested")
        job = InstallJob.objects.create(environment_id=environment_pk, agent=agent)
        InstallLogLine.objects.create(job=job, text="rebuild requested")
        events_record(
            Subject("install", job.pk),
            [("log", {"lines": ["rebuild requested"]}), install_entry(job.status)],
        )
        transaction.on_commit(lambda: install_jobs_enqueue(job_pks=[job.pk]))
    return job
