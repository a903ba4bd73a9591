"""The heartbeat of the steps a worker process is running, and the kill of cancelled ones.

One daemon thread per process, started with the first step: every
`ATOM_STEP_HEARTBEAT_SECONDS` it reads the status and attempt of the steps this process runs
(one query), stamps `heartbeat_at` on those still its own (one more), and kills the runner
serving any that is not (cancelled, its run failed or timed out, or reclaimed by the reaper):
`skills.runtime.call_interrupt` SIGKILLs the runner's process group, and the call returns as
if the runner had died. A trivial step finishes between two beats and costs nothing here.
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings
from django.db import connections
from django.utils import timezone

from skills.runtime import call_interrupt
from workflows.models import StepRun, StepStatus

logger = logging.getLogger(__name__)


class StepWatch:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, tuple[int, str]] = {}  # step pk → (attempt, call id)
        self._lost: set[int] = set()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def register(self, *, step_pk: int, attempt: int, call_id: str) -> None:
        with self._lock:
            self._active[step_pk] = (attempt, call_id)
            self._lost.discard(step_pk)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="workflow-step-watch", daemon=True
                )
                self._thread.start()

    def unregister(self, *, step_pk: int) -> None:
        with self._lock:
            self._active.pop(step_pk, None)

    def is_lost(self, step_pk: int) -> bool:
        """True once the watch found the step is no longer this process's to run."""
        with self._lock:
            return step_pk in self._lost

    def _loop(self) -> None:
        while True:
            self._wake.wait(settings.ATOM_STEP_HEARTBEAT_SECONDS)
            self._wake.clear()
            try:
                self.beat()
            except Exception:
                logger.exception("workflows: the step heartbeat failed")
                connections["default"].close_if_unusable_or_obsolete()

    def beat(self) -> list[int]:
        """One heartbeat; returns the steps found lost (their runners killed)."""
        with self._lock:
            active = dict(self._active)
        if not active:
            return []
        rows = StepRun.objects.filter(pk__in=list(active)).values_list("pk", "status", "attempt")
        mine, lost = [], []
        for pk, status, attempt in rows:
            if status == StepStatus.RUNNING and attempt == active[pk][0]:
                mine.append(pk)
            else:
                lost.append(pk)
        if mine:
            StepRun.objects.filter(pk__in=mine, status=StepStatus.RUNNING).update(
                heartbeat_at=timezone.now()
            )
        for pk in lost:
            with self._lock:
                self._lost.add(pk)
            call_interrupt(active[pk][1])
        return lost


WATCH = StepWatch()
os.register_at_fork(after_in_child=WATCH._reset)
