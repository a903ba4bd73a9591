"""Retries wait in their step row, not in a worker.

A failed attempt with retries left goes back to queued with `not_before` (its delay, with
backoff): no claim takes it earlier, and the worker that ran it moves on to other work. When the
delay is over, a timer thread of that worker process hands the step to the queue; if that
process died meanwhile, the reaper hands over every retry overdue by more than
`DISPATCH_GRACE_SECONDS`. Clearing `not_before` (only where it still holds the value the retry
set) decides which of them enqueues: one task per retry, and a second would be harmless anyway
(the claim decides).

Under synchronous django-q2 (`workflows run --here`, tests about logic) there is no worker to
free: the calling process is the worker, so it waits out the delay and runs the retry itself.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time

from django.db import connections
from django.utils import timezone

from workflows.engine.start import steps_enqueue
from workflows.models import StepRun, StepStatus

logger = logging.getLogger(__name__)

# How late a retry may be before the reaper takes over from the timer of its worker.
DISPATCH_GRACE_SECONDS = 5.0


def retry_dispatch_when_due(
    *, step_pk: int, timeout_seconds: float, due: datetime.datetime
) -> None:
    """Hand the retry of `step_pk` to the queue at `due`, without holding a worker until then."""
    from django_q.conf import Conf

    delay = max(0.0, (due - timezone.now()).total_seconds())
    if Conf.SYNC:
        time.sleep(delay)
        retry_dispatch(step_pk=step_pk, timeout_seconds=timeout_seconds, due=due)
        return
    timer = threading.Timer(
        delay,
        _dispatch_in_thread,
        kwargs={"step_pk": step_pk, "timeout_seconds": timeout_seconds, "due": due},
    )
    timer.name = f"workflow-retry-{step_pk}"
    timer.daemon = True  # a worker that stops leaves its retries to the reaper
    timer.start()


def retry_dispatch(*, step_pk: int, timeout_seconds: float, due: datetime.datetime) -> bool:
    """Enqueue the step's retry once: only if it still waits for this very retry."""
    taken = StepRun.objects.filter(pk=step_pk, status=StepStatus.QUEUED, not_before=due).update(
        not_before=None
    )
    if taken:
        steps_enqueue([(step_pk, timeout_seconds)])
    return bool(taken)


def retries_dispatch_overdue(*, now: datetime.datetime) -> list[int]:
    """The reaper's share: retries overdue by more than the grace (their worker's timer died
    with it) are enqueued; returns their step pks."""
    late = now - datetime.timedelta(seconds=DISPATCH_GRACE_SECONDS)
    overdue = StepRun.objects.filter(status=StepStatus.QUEUED, not_before__lt=late).values_list(
        "pk", "timeout_seconds", "not_before"
    )
    return [
        pk
        for pk, timeout, due in overdue
        if retry_dispatch(step_pk=pk, timeout_seconds=timeout, due=due)
    ]


def _dispatch_in_thread(*, step_pk: int, timeout_seconds: float, due: datetime.datetime) -> None:
    try:
        retry_dispatch(step_pk=step_pk, timeout_seconds=timeout_seconds, due=due)
    except Exception:
        logger.exception("workflows: handing the retry of step %s to the queue failed", step_pk)
    finally:
        connections.close_all()  # this thread's own connections
