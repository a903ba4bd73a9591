"""Turning edits of skill files into catalog versions, as they happen.

One watchdog observer watches `ATOM_SKILLS_DIR`. Editors save in bursts (write a temporary file,
rename it over the original, delete a backup), so events are gathered per path and a path is
read only once it has been quiet for a short debounce; what is on disk then decides: a file
that exists is imported (a change becomes a new version, no change writes nothing), a file
that is gone deprecates its skill.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import close_old_connections, connections, transaction
from django.utils import timezone
from watchdog.events import (
    FileClosedNoWriteEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from skills.catalog.importer import ImportRefused, SkillSource
from skills.catalog.manifest import is_skill_filename
from skills.catalog.transitions import TransitionRefused, skill_deprecate, skill_update
from skills.models import HistoryAction, RejectedSkillFile, Skill, SkillHistory, SkillStatus

logger = logging.getLogger(__name__)

IGNORED_EVENTS = (FileOpenedEvent, FileClosedNoWriteEvent)


@dataclass(frozen=True)
class SyncOutcome:
    path: str
    action: str  # created, updated, unchanged, rejected, deprecated, ignored
    detail: str = ""


def skill_file_sync(path: Path) -> SyncOutcome:
    """Bring the catalog in line with one skill file as it is on disk now."""
    path = path.resolve()
    if not path.exists():
        return _skill_file_removed(path)
    try:
        source = SkillSource.from_path(path)
    except OSError as error:
        return SyncOutcome(str(path), "ignored", str(error))
    try:
        report = skill_update(source=source, edits_make_versions=True, origin="watcher")
    except ImportRefused as refused:
        return _skill_file_rejected(path, refused)
    slug = (report.created or report.updated or report.unchanged)[0]
    Skill.objects.filter(slug=slug).exclude(source_path=str(path)).update(source_path=str(path))
    RejectedSkillFile.objects.filter(path=str(path)).delete()
    action = "created" if report.created else "updated" if report.updated else "unchanged"
    return SyncOutcome(str(path), action, slug)


def _skill_file_removed(path: Path) -> SyncOutcome:
    RejectedSkillFile.objects.filter(path=str(path)).delete()
    skill = Skill.objects.filter(source_path=str(path)).first()
    if skill is None or skill.status == SkillStatus.DEPRECATED:
        return SyncOutcome(str(path), "ignored", "no active skill came from this file")
    try:
        skill_deprecate(skill=skill, actor=None, note=f"{path} was deleted", check_staff=False)
    except TransitionRefused:
        return SyncOutcome(str(path), "ignored", "already deprecated")
    return SyncOutcome(str(path), "deprecated", skill.slug)


@transaction.atomic
def _skill_file_rejected(path: Path, refused: ImportRefused) -> SyncOutcome:
    """Keep the previous version active and put the error where the admin shows it."""
    message = "\n".join(str(error) for error in refused.errors)
    skill = Skill.objects.select_for_update().filter(source_path=str(path)).first()
    if skill is not None:
        Skill.objects.filter(pk=skill.pk).update(last_error=message, last_error_at=timezone.now())
        SkillHistory.objects.create(
            skill=skill,
            version_id=skill.current_version_id,
            action=HistoryAction.REJECTED,
            note=message,
        )
    else:
        RejectedSkillFile.objects.update_or_create(
            path=str(path), defaults={"message": message, "seen_at": timezone.now()}
        )
    logger.warning("skill file %s rejected: %s", path, message)
    return SyncOutcome(str(path), "rejected", message)


class _DebouncedPaths(FileSystemEventHandler):
    """Collect the paths events touch; hand each over once it has been quiet long enough."""

    def __init__(self, debounce: float) -> None:
        self.debounce = debounce
        self.pending: dict[Path, float] = {}
        self.condition = threading.Condition()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or isinstance(event, IGNORED_EVENTS):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        with self.condition:
            for raw in paths:
                if raw:
                    path = Path(str(raw))
                    if is_skill_filename(path):
                        self.pending[path] = time.monotonic() + self.debounce
            self.condition.notify()

    def take_quiet(self, stop: threading.Event) -> list[Path]:
        """Wait for paths whose last event is older than the debounce; return them."""
        with self.condition:
            while not stop.is_set():
                now = time.monotonic()
                ready = [path for path, due in self.pending.items() if due <= now]
                if ready:
                    for path in ready:
                        del self.pending[path]
                    return ready
                wait = min(self.pending.values(), default=now + 0.5) - now
                self.condition.wait(timeout=max(wait, 0.001))
        return []


class SkillsWatcher:
    """Watch a folder and sync every skill file that changes; `run` blocks until `stop`."""

    def __init__(
        self,
        root: Path,
        *,
        debounce: float,
        on_outcome: Callable[[SyncOutcome], None] | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.paths = _DebouncedPaths(debounce)
        self.on_outcome = on_outcome or (lambda outcome: None)
        self.on_ready = on_ready or (lambda: None)
        self.stopping = threading.Event()
        self.observer = Observer()
        self.ready = threading.Event()

    def run(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.observer.schedule(self.paths, str(self.root), recursive=True)
        self.observer.start()
        self.ready.set()
        self.on_ready()
        try:
            while not self.stopping.is_set():
                batch = self.paths.take_quiet(self.stopping)
                # Existing files first, so a rename moves a skill before its old path is seen gone.
                for path in sorted(batch, key=lambda p: not p.exists()):
                    self._sync(path)
        finally:
            self.observer.stop()
            self.observer.join()
            connections.close_all()  # this thread's; a test database cannot be dropped with it

    def stop(self) -> None:
        self.stopping.set()
        with self.paths.condition:
            self.paths.condition.notify_all()

    def _sync(self, path: Path) -> None:
        close_old_connections()
        try:
            outcome = skill_file_sync(path)
        except Exception:  # one bad file must not stop the watcher
            logger.exception("could not sync %s", path)
            return
        if outcome.action != "ignored":
            logger.info(
                "%s: %s %s", outcome.path, outcome.action, (outcome.detail.splitlines() or [""])[0]
            )
        self.on_outcome(outcome)
