"""Announcing state changes, after they are written.

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
