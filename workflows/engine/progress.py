"""Recording and announcing state changes.

Each state change of a run or a step is persisted as a live event (`run_events_record`, in the
transaction of the change: atom_site/events) and, after the commit, announced in-process.

Every state change of a run or a step goes through one function of `workflows.engine.states`
that writes it and then calls `announce` here (after the transaction commits), so a listener
never hears of a state the database does not hold. Listeners (the live-progress websocket, a
test) register with `listener_add`; with none registered an announcement costs a loop over an
empty list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from atom_site.events.record import Subject, events_record

logger = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []


def listener_add(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def listener_remove(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def announce(event: dict[str, Any]) -> None:
    """Tell every listener; a listener that fails is logged and never fails the engine."""
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:
            logger.exception("workflows: a progress listener failed on %s", event.get("event"))


# Persisted events (atom_site/events): written in the transaction of the change ---------------

Entry = tuple[str, dict[str, Any]]


def run_entry(status: str, error: str = "") -> Entry:
    return "run", {"status": status, "error": error}


def step_entry(
    step_id: str,
    status: str,
    attempt: int,
    *,
    duration_seconds: float | None = None,
    is_cached: bool = False,
    error: str = "",
) -> Entry:
    duration_ms = None if duration_seconds is None else round(duration_seconds * 1000, 3)
    return "step", {
        "step": step_id,
        "status": status,
        "attempt": attempt,
        "duration_ms": duration_ms,
        "is_cached": is_cached,
        "error": error,
    }


def run_events_record(run_id: int, entries: list[Entry]) -> None:
    """Persist the run's events in the current transaction; published when it commits."""
    events_record(Subject("run", run_id), entries)
