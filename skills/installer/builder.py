"""Ensure an environment exists: a cache hit costs one lookup; a miss is built exactly once per
key across every process and host, in a private directory moved into place when it is whole.

The `Environment` row is the lock. A request claims the build with one conditional UPDATE
(status pending/failed → building, with its own token); everyone else waits for the row to
become ready. A builder that dies is noticed by its heartbeat going stale (or, on its own host,
by its process being gone) and its claim can then be taken over.
"""

import errno
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, connections, router, transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from atom_site.events.record import Subject, log_lines_add
from atom_site.generations import ProcessCopies
from atom_site.rows import ModelRows, Parts
from atom_site.statements import Statement, instance_saved, row_insert, statements_run
from perf.recording import measure_performance, record_sample
from skills.installer.backends import Backend, BuildResult, InstallError, backend_get
from skills.installer.keys import EnvironmentSpec, environment_spec
from skills.installer.process import LogWriter, holder_is_dead
from skills.installer.slots import (
    SlotClaim,
    slot_acquire,
    slot_heartbeat,
    slot_release,
    slots_held,
)
from skills.models import Environment, InstallJob, InstallLogLine, SkillVersion
from skills.models.environments import EnvironmentBackend, EnvironmentStatus
from skills.operations import ENVIRONMENT_CACHE_HIT, PACKAGE_INSTALL
from skills.policy import policy_current, policy_enforce

logger = logging.getLogger(__name__)

WAIT_POLL_SECONDS = 0.05
HEARTBEAT_SECONDS = 5.0
TEMP_DIR_NAME = ".tmp"


class EnvironmentUnavailable(InstallError):
    """The build this request waited for failed, or did not finish in time."""


def job_log_writer(job: InstallJob | None) -> LogWriter:
    """A writer that stores each line as it comes (or logs it when there is no job)."""
    if job is None:
        return lambda line: logger.info("install: %s", line)

    subject = Subject("install", job.pk)

    def write(line: str) -> None:
        InstallLogLine.objects.create(job_id=job.pk, text=line[:10_000])
        log_lines_add(subject, [line])

    return write


def temp_root() -> Path:
    # Under the environments directory: the final rename stays on one filesystem.
    return Path(settings.ATOM_ENVS_DIR) / TEMP_DIR_NAME


def spec_for(
    *, language: str, requirements: list[str], backend: str | None = None
) -> EnvironmentSpec:
    """Validate, check policy (raises `RequirementError` / `PolicyError`) and fix the spec."""
    policy = policy_current()
    policy_enforce(language, requirements, policy=policy)
    return environment_spec(
        language=language, requirements=requirements, policy_version=policy.version, backend=backend
    )


def environment_row_for(spec: EnvironmentSpec) -> Environment:
    """The row for this key, created pending when it is new (the unique key decides races)."""
    key = spec.key
    environment = Environment.objects.filter(key=key).first()
    if environment is not None:
        return environment
    try:
        with transaction.atomic():
            return Environment.objects.create(
                key=key,
                language=spec.language,
                backend=spec.backend,
                requirements=list(spec.requirements),
                interpreter=spec.interpreter.version,
                platform=spec.interpreter.platform,
                policy_version=spec.policy_version,
                location=backend_get(spec.backend).location_for(key),
            )
    except IntegrityError:
        return Environment.objects.get(key=key)


def environment_is_usable(environment: Environment) -> bool:
    return environment.is_ready and backend_get(environment.backend).is_present(
        environment.location
    )


def environment_mark_used(*, environment: Environment) -> None:
    Environment.objects.filter(pk=environment.pk).update(
        use_count=F("use_count") + 1, last_used_at=timezone.now()
    )


def environment_ready_lookup(*, key: str) -> Environment | None:
    """The fast path: a ready row whose files are still there, or None.

    Raises `BackendUnavailable` when the backend cannot tell (no Docker engine answers): the
    environment is then neither used nor demoted.
    """
    environment = Environment.objects.filter(key=key, status=EnvironmentStatus.READY).first()
    return _present_or_demoted(environment) if environment is not None else None


def _use_sql(connection, *, by: str, returning: str) -> str:
    """The use of a ready environment found by `by` (its count and time, params: the time,
    the `by` value, the ready status), returning `returning`."""
    quote = connection.ops.quote_name
    use_count = quote("use_count")
    return (
        f"UPDATE {quote(Environment._meta.db_table)} "
        f"SET {use_count} = {use_count} + 1, {quote('last_used_at')} = %s "
        f"WHERE {quote(by)} = %s AND {quote('status')} = %s RETURNING {returning}"
    )


def _ready_taken_sql(connection) -> tuple[Parts, str]:
    return [(Environment, "")], _use_sql(connection, by="key", returning="{columns}")


_READY_TAKEN = ModelRows(_ready_taken_sql)
# How long a ready environment this process took stays a copy that a call may start in before
# the database has said again that it is ready (see `environment_ready_copy`).
READY_COPY_SECONDS = 60.0
_ready_copies: ProcessCopies[Environment] = ProcessCopies(None, max_age=lambda: READY_COPY_SECONDS)


def environment_ready_taken(*, key: str, recording: Model | None = None) -> Environment | None:
    """The fast path of a use: the ready row, counted as used by the same statement, when its
    files are still there; else None (a ready row whose files are gone is demoted).

    One `UPDATE … RETURNING` instead of a lookup and then an update: on PostgreSQL each is a
    round trip, a sizeable part of a warm run's budget. A row found missing, or
    whose Docker engine does not answer (`BackendUnavailable`), has been counted as used too.
    `recording`, an unsaved row (a run about to be carried out in it), is inserted in the same
    trip and transaction, and stays saved only when the environment is returned: otherwise
    (not ready, its files gone, its engine silent) it is deleted again.
    """
    using = router.db_for_write(Environment)
    now = connections[using].ops.adapt_datetimefield_value(timezone.now())
    statements = [_READY_TAKEN.statement([now, key, EnvironmentStatus.READY], using=using)]
    if recording is not None:
        statements.append(row_insert(recording, using=using))
    # A use count, a time, a run's first row: the commit need not wait for the disk
    # (atom_site/transactions).
    found = statements_run(statements, is_flush_awaited=False, using=using)
    taken = _READY_TAKEN.instances(found[0][0], using=using)[0] if found[0] else None
    ready = None
    try:
        ready = _present_or_demoted(taken) if taken is not None else None
    finally:
        if recording is not None:
            [(pk,)] = found[1]
            _recorded_if(ready is not None, recording, pk=pk, using=using)
        _ready_copies.keep(key, ready)
    return ready


def environment_use_statement(environment: Environment) -> Statement:
    """The use of a ready environment a call started in from this process's copy (written
    after the call, with its result): counted, and its id returned, if it is still ready."""
    connection = connections[router.db_for_write(Environment)]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return Statement(
        _use_sql(connection, by="id", returning=connection.ops.quote_name("id")),
        [now, environment.pk, EnvironmentStatus.READY],
    )


def environment_use_found(environment: Environment, *, still_ready: bool) -> None:
    """After `environment_use_statement`: the copy stays fresh while the environment is
    ready, and is dropped once it is not (the next call takes it from the database)."""
    _ready_copies.keep(environment.key, environment if still_ready else None)


def environment_ready_copy(*, key: str) -> Environment | None:
    """The ready environment of `key` as this process last took it, within
    `READY_COPY_SECONDS`, while its files are there; else None. Not a use: a call started in
    it takes it as well (`environment_ready_taken`), which drops the copy if the database no
    longer has it ready. Never one on a Docker engine, which alone can say its image is there."""
    ready = _ready_copies.peek(key)
    if ready is None or ready.backend == EnvironmentBackend.DOCKER:
        return None
    return ready if environment_is_usable(ready) else None


def _recorded_if(kept: bool, recording: Model, *, pk: Any, using: str) -> None:
    """Keep an inserted row (it becomes saved) or delete it again (it stays unsaved)."""
    if kept:
        instance_saved(recording, pk=pk, using=using)
    else:
        type(recording)._base_manager.using(using).filter(pk=pk).delete()


def _present_or_demoted(environment: Environment) -> Environment | None:
    """The ready environment when its files (or image) are there; else demoted, and None."""
    if environment_is_usable(environment):
        return environment
    _environment_demote_missing(environment=environment)
    return None


def _environment_demote_missing(*, environment: Environment) -> None:
    """A ready environment whose files are gone is not used broken: it is built again."""
    demoted = Environment.objects.filter(
        pk=environment.pk, status=EnvironmentStatus.READY, ready_at=environment.ready_at
    ).update(
        status=EnvironmentStatus.PENDING,
        error=f"{environment.location} was missing; rebuilding",
    )
    if demoted:
        logger.warning(
            "environment %s: %s is missing; rebuilding", environment.key, environment.location
        )


def environment_ensure(
    *,
    language: str,
    requirements: list[str],
    backend: str | None = None,
    job: InstallJob | None = None,
) -> Environment:
    """A ready environment for this requirement set, building it if needed (blocks until ready).

    Raises `RequirementError` or `PolicyError` for refused input, `InstallError` (and its
    subclasses) when the build fails, `EnvironmentUnavailable` when the build it waited for
    failed. Safe to call from any number of processes at once: one of them builds.
    """
    spec = spec_for(language=language, requirements=requirements, backend=backend)
    return environment_obtain(spec=spec, job=job)


def environment_for_skill_version(
    *, skill_version: SkillVersion, job: InstallJob | None = None
) -> Environment:
    """The ready environment a runner uses for one version of a skill.

    Its interpreter is `environment.python_path` (Python) and its packages
    `environment.node_path` (Node).
    """
    return environment_ensure(
        language=skill_version.skill.language,
        requirements=list(skill_version.requirements),
        job=job,
    )


def environment_ready_use(
    *, spec: EnvironmentSpec, recording: Model | None = None
) -> Environment | None:
    """The ready environment of `spec`, counted as used and timed as a cache hit; None when it
    has to be built (or waited for) first. Never builds. `recording`: an unsaved row saved in
    the same trip when the environment is ready, left unsaved otherwise (see
    `environment_ready_taken`)."""
    started = time.perf_counter()
    ready = environment_ready_taken(key=spec.key, recording=recording)
    if ready is not None:
        record_sample(
            ENVIRONMENT_CACHE_HIT,
            time.perf_counter() - started,
            environment_key=spec.key,
            backend=spec.backend,
        )
    return ready


def environment_obtain(*, spec: EnvironmentSpec, job: InstallJob | None = None) -> Environment:
    """Find, wait for or build the environment of `spec` (see `environment_ensure`)."""
    log = job_log_writer(job)
    ready = environment_ready_use(spec=spec)
    if ready is not None:
        if job is not None:
            InstallJob.objects.filter(pk=job.pk).update(cache_hit=True)
        return ready
    environment = environment_row_for(spec)
    return _environment_wait_or_build(spec=spec, environment=environment, job=job, log=log)


def _environment_wait_or_build(
    *, spec: EnvironmentSpec, environment: Environment, job: InstallJob | None, log: LogWriter
) -> Environment:
    deadline = time.monotonic() + settings.ATOM_INSTALL_WAIT_TIMEOUT
    watched_token = None
    announced = False
    while True:
        environment.refresh_from_db()
        if environment.is_ready:
            if environment_is_usable(environment):
                environment_mark_used(environment=environment)
                if job is not None:
                    InstallJob.objects.filter(pk=job.pk).update(cache_hit=watched_token is None)
                return environment
            _environment_demote_missing(environment=environment)
            log(f"{environment.location} is missing; building it again")
            continue
        if (
            environment.status == EnvironmentStatus.FAILED
            and watched_token
            and environment.build_token == watched_token
        ):
            # The build this request waited for failed: report it rather than build again
            # (a new request, or a retry, will build again).
            raise EnvironmentUnavailable(
                f"the build of environment {environment.key[:12]} failed: {environment.error}"
            )
        token = _environment_claim(environment=environment)
        if token is not None:
            return _environment_build(
                spec=spec, environment_pk=environment.pk, token=token, job=job, log=log
            )
        if environment.status == EnvironmentStatus.BUILDING:
            watched_token = environment.build_token
            if not announced:
                log(f"waiting for the build of {environment.key[:12]} already under way")
                announced = True
        if time.monotonic() > deadline:
            raise EnvironmentUnavailable(
                f"environment {environment.key[:12]} was not ready after "
                f"{settings.ATOM_INSTALL_WAIT_TIMEOUT:g} s"
            )
        time.sleep(WAIT_POLL_SECONDS)


def _environment_claim(*, environment: Environment) -> str | None:
    """Take the build with one conditional UPDATE; the token proves who holds it."""
    token = secrets.token_hex(16)
    now = timezone.now()
    claimable = Q(status__in=[EnvironmentStatus.PENDING, EnvironmentStatus.FAILED])
    if environment.status == EnvironmentStatus.BUILDING and holder_is_dead(
        host=environment.build_host,
        pid=environment.build_pid,
        heartbeat_at=environment.build_heartbeat_at,
    ):
        # Only the holder we saw may be replaced: two takers cannot both win.
        claimable = Q(status=EnvironmentStatus.BUILDING, build_token=environment.build_token)
    claimed = Environment.objects.filter(claimable, pk=environment.pk).update(
        status=EnvironmentStatus.BUILDING,
        build_token=token,
        build_host=socket.gethostname(),
        build_pid=os.getpid(),
        build_heartbeat_at=now,
        build_count=F("build_count") + 1,
        error="",
    )
    return token if claimed else None


@contextmanager
def _heartbeat(beat: Callable[[], None]):
    """Keep the build's claims fresh while it runs, from a thread with its own connection."""
    if connection.in_atomic_block:
        # The caller's transaction holds the rows: a second connection would wait for them.
        # Same-host takeover still works through the builder's pid.
        yield
        return
    stop = threading.Event()

    def beat_until_stopped() -> None:
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                beat()
        finally:
            connection.close()

    thread = threading.Thread(target=beat_until_stopped, name="install-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def temp_dirs_clean(*, key: str | None = None, older_than: float | None = None) -> list[Path]:
    """Remove working directories left by builds that died (all of one key's but the caller's
    own, which it creates afterwards; or all older than `older_than` seconds)."""
    root = temp_root()
    if not root.is_dir():
        return []
    removed = []
    cutoff = time.time() - older_than if older_than is not None else None
    # A held slot's directory is a build under way (a long one may be older than the cutoff).
    in_use = {slot.directory_name for slot in slots_held()} if key is None else set()
    for path in root.iterdir():
        if key is not None and not path.name.startswith(f"{key}-"):
            continue
        if path.name in in_use:
            continue
        if cutoff is not None:
            try:
                if path.lstat().st_mtime > cutoff:
                    continue
            except FileNotFoundError:
                continue
        _path_remove(path)
        removed.append(path)
    return removed


# A disk that is full, read-only or refused: the host's to fix, said in one sentence.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def storage_failure(error: OSError) -> InstallError | None:
    """An `InstallError` naming the path and the environments folder for a storage error."""
    if error.errno not in STORAGE_ERRNOS:
        return None
    where = error.filename or settings.ATOM_ENVS_DIR
    return InstallError(
        f"cannot write {where}: {error.strerror} "
        f"(the environments folder, ATOM_ENVS_DIR, is {settings.ATOM_ENVS_DIR})"
    )


def _environment_build(
    *,
    spec: EnvironmentSpec,
    environment_pk: int,
    token: str,
    job: InstallJob | None,
    log: LogWriter,
) -> Environment:
    backend: Backend = backend_get(spec.backend)
    slots: list[SlotClaim] = []

    def beat() -> None:
        Environment.objects.filter(pk=environment_pk, build_token=token).update(
            build_heartbeat_at=timezone.now()
        )
        for slot in slots:
            slot_heartbeat(slot)

    # We hold the claim: any other working directory of this key belongs to a dead build.
    for path in temp_dirs_clean(key=spec.key):
        log(f"removed the leftovers of an earlier build: {path.name}")
    wanted = ", ".join(spec.requirements) or "(no requirements)"
    try:
        with _heartbeat(beat):
            slot = slot_acquire(
                environment_key=spec.key, log=log, timeout=settings.ATOM_INSTALL_WAIT_TIMEOUT
            )
            slots.append(slot)
            # The slot is held until the row says ready: the limit counts whole builds.
            workdir = temp_root() / slot.directory_name
            try:
                if workdir.exists() or workdir.is_symlink():
                    # The slot is ours: what its directory holds was left by a dead build.
                    _path_remove(workdir)
                    log(f"removed the leftovers of an earlier build in {workdir.name}")
                workdir.parent.mkdir(parents=True, exist_ok=True)
                log(f"building environment {spec.key[:12]} with {spec.backend}: {wanted}")
                started = time.perf_counter()
                result, location, size = _backend_build(
                    spec=spec, backend=backend, workdir=workdir, token=token, log=log
                )
                seconds = time.perf_counter() - started
                _environment_mark_ready(
                    spec=spec,
                    environment_pk=environment_pk,
                    token=token,
                    result=result,
                    location=location,
                    size=size,
                    seconds=seconds,
                )
            except BaseException:
                # Removed while the slot is still ours: after its release the directory may
                # be another build's.
                _path_remove(workdir)
                raise
            finally:
                slot_release(slot)
    except BaseException as error:
        # Nothing half-built: the row says failed (only if the claim is still ours), and the
        # error propagates to the job.
        failure = storage_failure(error) if isinstance(error, OSError) else None
        if isinstance(failure or error, InstallError):
            message = (failure or error).message
        else:
            message = f"{type(error).__name__}: {error}"
        Environment.objects.filter(pk=environment_pk, build_token=token).update(
            status=EnvironmentStatus.FAILED, error=message
        )
        log(f"failed: {message}")
        if job is not None:
            InstallJob.objects.filter(pk=job.pk).update(cache_hit=False)
        if failure is not None:
            raise failure from error
        raise
    if job is not None:
        InstallJob.objects.filter(pk=job.pk).update(
            cache_hit=False,
            resolve_seconds=result.resolve_seconds,
            install_seconds=result.install_seconds,
            verify_seconds=result.verify_seconds,
        )
    log(f"ready in {seconds:.2f} s at {location} ({size or 0} bytes)")
    try:
        backend.after_ready(spec=spec, location=location)
    except Exception:  # work for later builds: this one is ready whatever happens to it
        logger.warning("environment %s: after-ready work failed", spec.key, exc_info=True)
    return Environment.objects.get(pk=environment_pk)


def _environment_mark_ready(
    *,
    spec: EnvironmentSpec,
    environment_pk: int,
    token: str,
    result: BuildResult,
    location: str,
    size: int | None,
    seconds: float,
) -> None:
    now = timezone.now()
    marked = Environment.objects.filter(
        pk=environment_pk, build_token=token, status=EnvironmentStatus.BUILDING
    ).update(
        status=EnvironmentStatus.READY,
        location=location,
        lockfile=result.lockfile,
        size_bytes=size,
        build_seconds=seconds,
        ready_at=now,
        last_used_at=now,
        use_count=F("use_count") + 1,
        error="",
    )
    if not marked:
        raise EnvironmentUnavailable(
            f"environment {spec.key[:12]}: the build was taken over by another builder"
        )


def _backend_build(
    *, spec: EnvironmentSpec, backend: Backend, workdir: Path, token: str, log: LogWriter
) -> tuple[BuildResult, str, int | None]:
    """Build in `workdir` and move the result into place: (result, location, size)."""
    with measure_performance(
        PACKAGE_INSTALL,
        environment_key=spec.key,
        backend=spec.backend,
        requirements=len(spec.requirements),
    ):
        result = backend.build(spec=spec, workdir=workdir, log=log)
        if result.location:
            # Built elsewhere (a Docker image): the working directory was its context.
            shutil.rmtree(workdir, ignore_errors=True)
            return result, result.location, result.size_bytes
        location = backend.location_for(spec.key)
        size = backend.place(
            workdir=workdir, location=location, trash=temp_root() / f"{spec.key}-{token}-old"
        )
        return result, location, size


def _path_remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
