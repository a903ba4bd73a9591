"""Publishing events on the channel layer, for live pages, notebooks and API clients.

Callers write their state to the database first and publish afterwards, so a listener that
misses an event can always read the current state back.

Sending on the channel layer costs milliseconds (database or Redis round trips), so a
background thread does it: the caller's path only appends to a queue. One thread sends in the
order the changes committed, on one event loop and connection kept for the process's life;
`flush` waits until all are sent, and runs at exit so a short-lived command that imports and
exits still delivers its events. Python 3.12 refuses to start threads once the interpreter is
shutting down, so every thread sending needs is started with the first event, not at exit.

While sends keep coming closer together than `SEND_INTERVAL_SECONDS` (a worker carrying out a
chain of trivial steps commits a few changes every couple of milliseconds), the next one waits
for the end of the interval and takes what came meanwhile: sending each commit's events on
their own cost the publisher about as much CPU as the step itself (a layer round trip, the
event loop's hand-offs between threads), taken from the worker on a busy host. Otherwise (an
event alone, or a step's last log lines followed by its state change) events go at once.
"""

import asyncio
import atexit
import logging
import math
import multiprocessing.util
import os
import threading
from collections import deque
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

EXIT_FLUSH_TIMEOUT = 10.0
# Events a layer message carries at most (a log event holds up to 500 lines).
MESSAGE_PAYLOADS = 50
# Sends closer together than this, twice in a row, make the next one wait for the interval's
# end: what queues up meanwhile goes with it, as one message a group.
SEND_INTERVAL_SECONDS = 0.01

Event = tuple[str, dict[str, Any]]


async def apublish_event(group: str, payload: dict[str, Any]) -> None:
    """Send `payload` to every websocket subscribed to `group`."""
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(group, {"type": "atom.event", "payload": payload})


async def apublish_events(group: str, payloads: list[dict[str, Any]]) -> None:
    """Send `payloads`, in order, to every websocket subscribed to `group`: one layer message
    (`atom.events`) for several, as a run's burst of state changes comes."""
    if len(payloads) == 1:
        await apublish_event(group, payloads[0])
        return
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(group, {"type": "atom.events", "payloads": payloads})


def _by_group(batch: list[Event]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The batch as (group, payloads in order), at most MESSAGE_PAYLOADS a message."""
    groups: dict[str, list[list[dict[str, Any]]]] = {}
    for group, payload in batch:
        chunks = groups.setdefault(group, [[]])
        if len(chunks[-1]) == MESSAGE_PAYLOADS:
            chunks.append([])
        chunks[-1].append(payload)
    return [(group, chunk) for group, chunks in groups.items() for chunk in chunks]


class EventPublisher:
    """Sends events on the channel layer from one daemon thread, in the order given.

    The thread runs one event loop for its whole life (so the layer's connection is reused),
    waiting for events in a thread-sensitive call: the thread itself blocks on the queue while
    the loop awaits it, and the channel layer's own database work runs there too.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._events: deque[Event] = deque()
        self._condition = threading.Condition()
        self._pending = 0  # queued or being sent
        self._is_stopping = False
        self._thread: threading.Thread | None = None

    def publish(self, group: str, payload: dict[str, Any]) -> None:
        with self._condition:
            self._events.append((group, payload))
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread_start()
            self._condition.notify_all()

    def _thread_start(self) -> None:
        """Start the sender and wait until its threads exist (once per process)."""
        ready = threading.Event()
        self._is_stopping = False
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="atom-event-publisher", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=5)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event published so far is sent (or failed); False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending == 0, timeout=timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Send what is queued, then end the thread and its loop (a later event starts them
        again). At exit the loop's thread must be idle, or the interpreter waits for it."""
        with self._condition:
            thread = self._thread
            self._is_stopping = True
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout)

    def after_fork(self) -> None:
        """A forked child (a django-q2 worker) has no publisher thread; its parent sends what
        the parent queued."""
        self._reset()

    def _run(self, ready: threading.Event) -> None:
        try:
            async_to_sync(self._serve)(ready)
        except Exception:
            logger.exception("the event publisher stopped")

    async def _serve(self, ready: threading.Event) -> None:
        ready.set()
        next_batch = sync_to_async(self._next_batch, thread_sensitive=True)
        loop = asyncio.get_running_loop()
        sends: deque[float] = deque([-math.inf, -math.inf], maxlen=2)  # the last two's times
        while (batch := await next_batch()) is not None:
            wait = sends[-1] + SEND_INTERVAL_SECONDS - loop.time()
            if wait > 0 and sends[-1] - sends[0] < SEND_INTERVAL_SECONDS:
                await asyncio.sleep(wait)
                batch += self._queued()
            sends.append(loop.time())
            try:
                # Sending costs a layer round trip a message, whatever it holds: what queued
                # up during the last send goes as one message a group.
                for group, payloads in _by_group(batch):
                    try:
                        await apublish_events(group, payloads)
                    except Exception as error:  # committed: sockets read the table back
                        logger.warning(
                            "could not publish %d event(s) to %s (%s: %s); listeners read them"
                            " from the database",
                            len(payloads),
                            group,
                            type(error).__name__,
                            error,
                        )
            finally:
                with self._condition:
                    self._pending -= len(batch)
                    self._condition.notify_all()

    def _next_batch(self) -> list[Event] | None:
        """Every queued event, once there is one; None when stopping with nothing queued."""
        with self._condition:
            self._condition.wait_for(lambda: self._events or self._is_stopping)
            if not self._events:
                return None
            return self._queued()

    def _queued(self) -> list[Event]:
        """Every queued event (none waited for)."""
        with self._condition:
            batch = list(self._events)
            self._events.clear()
            return batch


publisher = EventPublisher()


def _flush_at_exit() -> None:
    if not publisher.flush(EXIT_FLUSH_TIMEOUT):
        logger.warning("some events were not sent before exit")
    publisher.stop(EXIT_FLUSH_TIMEOUT)


os.register_at_fork(after_in_child=publisher.after_fork)
# Sending needs a thread pool (asgiref runs each loop in one), and thread pools refuse work once
# the interpreter starts shutting down, before ordinary atexit handlers run: threading's own
# exit hooks run earlier, newest first, so this one runs before concurrent.futures shuts down.
getattr(threading, "_register_atexit", atexit.register)(_flush_at_exit)
# Multiprocessing children (django-q2 workers) leave through os._exit, which skips exit hooks
# but runs multiprocessing's finalizers.
multiprocessing.util.Finalize(None, _flush_at_exit, exitpriority=100)
