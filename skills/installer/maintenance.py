"""Listing, deleting and garbage-collecting environments, pruning the installers' caches, and an
environment's lockfile by key."""

import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from skills.installer.backends import backend_get
from skills.installer.backends.base import tree_size
from skills.installer.backends.uv import uv_binary, uv_environment
from skills.installer.builder import READY_COPY_SECONDS, TEMP_DIR_NAME, temp_dirs_clean
from skills.installer.bytecode import bytecode_markers_prune
from skills.installer.process import run_logged
from skills.models import Environment, InstallJob
from skills.models.environments import EnvironmentStatus, InstallJobStatus

# gc never removes an environment used more recently than this, whatever it is asked.
MIN_UNUSED = timedelta(seconds=5 * READY_COPY_SECONDS)


class EnvironmentInUse(RuntimeError):
    pass


@dataclass
class CollectReport:
    removed: list[str] = field(default_factory=list)  # keys
    kept_in_use: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    cache_freed_bytes: int = 0
    temp_dirs_removed: int = 0
    orphans_removed: list[str] = field(default_factory=list)

    @property
    def total_freed_bytes(self) -> int:
        return self.freed_bytes + self.cache_freed_bytes


def _jobs_pending(environment_pk: int) -> bool:
    return InstallJob.objects.filter(
        environment_id=environment_pk,
        status__in=[InstallJobStatus.QUEUED, InstallJobStatus.RUNNING],
    ).exists()


def _environment_files_remove(environment: Environment) -> int:
    backend = backend_get(environment.backend)
    size = environment.size_bytes or 0
    if environment.backend != "docker":
        location = Path(environment.location)
        size = tree_size(location) if location.exists() else 0
    backend.remove(environment.location)
    return size


def environment_delete(*, environment_pk: int) -> int:
    """Delete an environment's files and row; refuses one being built or waited for.

    Returns the bytes freed. The row is first taken out of "ready" with a conditional UPDATE,
    so no request is handed an environment whose files are going away.
    """
    taken = Environment.objects.filter(
        pk=environment_pk,
        status__in=[EnvironmentStatus.READY, EnvironmentStatus.FAILED, EnvironmentStatus.PENDING],
    ).update(status=EnvironmentStatus.PENDING, error="being deleted")
    environment = Environment.objects.filter(pk=environment_pk).first()
    if environment is None:
        return 0
    if not taken:
        raise EnvironmentInUse(f"environment {environment.key[:12]} is being built")
    if _jobs_pending(environment_pk):
        raise EnvironmentInUse(f"environment {environment.key[:12]} has install jobs waiting")
    freed = _environment_files_remove(environment)
    environment.delete()
    return freed


def environments_collect(
    *, unused_for: timedelta, dry_run: bool = False, prune_cache: bool = True
) -> CollectReport:
    """Remove the environments nobody used for `unused_for`, never one in use.

    "In use" means being built, with install jobs queued or running, or used (looked up by a
    runner or an install) within the period, and never less than `MIN_UNUSED`: a process may
    start a call in an environment it took within `READY_COPY_SECONDS` and write its use after
    the call (skills/runs/records.py); the rest is room for hosts whose clocks differ. Each
    removal is claimed with a conditional UPDATE on `last_used_at`, so an environment used
    while gc runs is kept.
    """
    report = CollectReport()
    cutoff = timezone.now() - max(unused_for, MIN_UNUSED)
    stale = Environment.objects.filter(
        Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff),
        status__in=[EnvironmentStatus.READY, EnvironmentStatus.FAILED, EnvironmentStatus.PENDING],
    )
    for environment in stale:
        if _jobs_pending(environment.pk):
            report.kept_in_use.append(environment.key)
            continue
        if dry_run:
            report.removed.append(environment.key)
            report.freed_bytes += environment.size_bytes or 0
            continue
        taken = Environment.objects.filter(
            Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff),
            pk=environment.pk,
            status=environment.status,
        ).update(status=EnvironmentStatus.PENDING, error="being collected")
        if not taken:
            report.kept_in_use.append(environment.key)
            continue
        report.freed_bytes += _environment_files_remove(environment)
        environment.delete()
        report.removed.append(environment.key)
    if dry_run:
        return report
    report.temp_dirs_removed = len(
        temp_dirs_clean(older_than=float(settings.ATOM_INSTALL_STALE_SECONDS))
    )
    report.orphans_removed = _orphans_remove(cutoff=cutoff)
    if prune_cache:
        report.cache_freed_bytes = uv_cache_prune()
        bytecode_markers_prune()
    return report


def _orphans_remove(*, cutoff) -> list[str]:
    """Directories under the environments directory that no row knows (a database reset, a
    row deleted by hand), once they are older than the cutoff."""
    root = Path(settings.ATOM_ENVS_DIR)
    if not root.is_dir():
        return []
    known = set(Environment.objects.values_list("key", flat=True))
    removed = []
    for path in root.iterdir():
        if path.name == TEMP_DIR_NAME or path.name in known or not path.is_dir():
            continue
        if path.stat().st_mtime > cutoff.timestamp():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def uv_cache_prune() -> int:
    """`uv cache prune` on Atom's uv cache; returns the bytes it freed."""
    cache = Path(settings.ATOM_UV_CACHE_DIR)
    if not cache.is_dir():
        return 0
    before = tree_size(cache)
    run_logged(
        [uv_binary(), "cache", "prune"],
        log=lambda line: None,
        env=uv_environment(),
        timeout=float(settings.ATOM_INSTALL_TIMEOUT),
    )
    return max(0, before - tree_size(cache))


def environment_lockfile(*, key: str) -> str | None:
    """The lockfile of the environment with this key; None when there is none or it is empty."""
    found = Environment.objects.filter(key=key).values_list("lockfile", flat=True).first()
    return found or None
