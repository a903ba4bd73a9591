"""Record timing samples on hot paths for a microsecond or two each.

`measure_performance(operation, **context)` times a block or a function (sync or async) and
appends one tuple to an in-memory buffer; nothing touches the database on the measured path.
The buffer is written in one statement (COPY on PostgreSQL, executemany on SQLite) when it
holds `PERF_BATCH_SIZE` samples or its oldest sample is `PERF_FLUSH_INTERVAL` seconds old
(checked when a sample is added, when a request finishes and when a django-q2 task ends, and
by the writer thread's own timer, so an idle process writes its last samples too), and at
process exit.

The write is done by a daemon writer thread with its own connection, so neither the measured
thread nor an event loop ever waits for it. Inside a transaction, the writer is only woken
when the transaction commits (`transaction.on_commit`): a sample is never written while a
caller's transaction holds SQLite's write lock, and a test's rolled-back transaction never
wakes it. The timer is armed the same way: by the first sample of a batch, at once outside a
transaction, at its commit inside one.

Tests (and anyone who needs the rows now) call `flush()` — or `await aflush()` — which writes
in the calling thread.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import logging
import math
import multiprocessing.util
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# Context keys kept in their own indexed columns; any other key goes to Sample.context.
CONTEXT_COLUMNS: frozenset[str] = frozenset(
    {"skill", "version", "environment_key", "workflow", "step", "agent", "host"}
)

_perf_counter = time.perf_counter
_wall_clock = time.time

# (operation, duration seconds, ok, error, context, wall-clock end)
SampleRow = tuple[str, float, bool, str, dict[str, Any], float]


class SampleBuffer:
    """A bounded, thread-safe buffer of samples written to the database in batches."""

    def __init__(self, *, batch_size: int, flush_interval: float, limit: int, enabled: bool):
        self._rows: deque[SampleRow] = deque(maxlen=limit)
        self._deadline = math.inf
        self._threading_reset()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.enabled = enabled

    def __len__(self) -> int:
        return len(self._rows)

    def configure(
        self,
        *,
        batch_size: int | None = None,
        flush_interval: float | None = None,
        enabled: bool | None = None,
    ) -> None:
        if batch_size is not None:
            self.batch_size = batch_size
        if flush_interval is not None:
            self.flush_interval = flush_interval
        if enabled is not None:
            self.enabled = enabled

    def add(self, row: SampleRow, now: float) -> None:
        """The hot path: one append and two comparisons, unless a flush is due."""
        if not self.enabled:
            return
        rows = self._rows
        rows.append(row)
        if len(rows) >= self.batch_size or now >= self._deadline:
            self.flush_soon()
        elif self._deadline == math.inf:
            self._deadline = now + self.flush_interval
            self.timer_arm()  # once per batch: the writer flushes at the deadline, idle or not

    def is_due(self) -> bool:
        rows = len(self._rows)
        return rows >= self.batch_size or (rows > 0 and _perf_counter() >= self._deadline)

    def flush_if_due(self) -> None:
        if self.is_due():
            self.flush_soon()

    def flush_soon(self) -> None:
        """Hand the write to the writer thread — after the commit, inside a transaction."""
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.in_atomic_block:
            if not any(entry[1] == self.writer_wake for entry in connection.run_on_commit):
                transaction.on_commit(self.writer_wake)
            return
        self.writer_wake()

    def timer_arm(self) -> None:
        """Have the writer write the buffer at its deadline — after the commit, inside a
        transaction (as `flush_soon`)."""
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.in_atomic_block:
            if not any(entry[1] == self.writer_arm for entry in connection.run_on_commit):
                transaction.on_commit(self.writer_arm)
            return
        self.writer_arm()

    def writer_arm(self) -> None:
        """Wake the writer so that it waits for the buffer's deadline (it writes nothing now)."""
        self._writer_start()
        self._wakeup.set()

    def writer_wake(self) -> None:
        """Have the writer write the buffer now."""
        self._flush_requested = True
        self._writer_start()
        self._wakeup.set()

    def _writer_start(self) -> None:
        writer = self._writer
        if writer is None or not writer.is_alive():
            with self._writer_start_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(
                        target=self._writer_loop, name="perf-sample-writer", daemon=True
                    )
                    self._writer.start()

    def _writer_loop(self) -> None:
        while True:
            deadline = self._deadline
            timeout = None if deadline == math.inf else max(0.0, deadline - _perf_counter())
            self._wakeup.wait(timeout)
            with self._idle:
                self._wakeup.clear()
                requested, self._flush_requested = self._flush_requested, False
                if not requested and not self.is_due():
                    continue  # armed: wait again, now for the deadline
                self._writing = True
            try:
                self.flush()
            finally:
                _connection_tidy()
                with self._idle:
                    self._writing = False
                    self._idle.notify_all()

    def writer_wait(self, timeout: float = 10.0) -> bool:
        """Wait until the writer thread has nothing left to do (for tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(
                lambda: not self._writing and not self._wakeup.is_set(), timeout
            )

    def flush(self, *, quiet: bool = False) -> int:
        """Write every buffered sample now; returns how many were written."""
        with self._write_lock:
            self._deadline = math.inf
            rows = self._rows
            batch = [rows.popleft() for _ in range(len(rows))]
            if not batch:
                return 0
            try:
                _samples_write(batch)
            except Exception as error:  # losing samples must never break the measured operation
                if quiet:
                    logger.warning("perf: %d timing sample(s) lost: %s", len(batch), error)
                else:
                    logger.exception("perf: could not write %d timing sample(s)", len(batch))
                return 0
            return len(batch)

    async def aflush(self) -> int:
        return await sync_to_async(self.flush, thread_sensitive=True)()

    def clear(self) -> None:
        with self._write_lock:
            self._rows.clear()
            self._deadline = math.inf

    def _threading_reset(self) -> None:
        self._write_lock = threading.Lock()
        self._writer_start_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._wakeup = threading.Event()
        self._idle = threading.Condition()
        self._writing = False
        self._flush_requested = False

    def after_fork(self) -> None:
        """A forked child starts empty, without the parent's writer thread: its parent still
        owns (and writes) what it buffered."""
        self._threading_reset()
        self._rows.clear()
        self._deadline = math.inf


def _connection_tidy() -> None:
    """Drop the writer thread's connection if it broke or aged; never let that kill the thread."""
    try:
        connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
    except Exception:  # e.g. a database that refuses connections from this thread
        logger.warning("perf: could not check the sample writer's connection", exc_info=True)


COLUMN_ORDER = ("skill", "version", "environment_key", "workflow", "step", "agent", "host")


def _samples_write(batch: list[SampleRow]) -> None:
    """One statement per batch: the ORM's per-object work would cost more than the measurements
    themselves (see docs/decisions.md)."""
    from perf.models import Sample

    connection = connections[DEFAULT_DB_ALIAS]
    host = settings.ATOM_HOST_NAME
    rows = [_sample_row(row, host) for row in batch]
    names = ", ".join(
        ("operation", "duration", "ok", "error", *COLUMN_ORDER, "context", "created_at")
    )
    table = Sample._meta.db_table
    with transaction.atomic(using=DEFAULT_DB_ALIAS), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY adapts each row in C: the cheapest way in from Python.
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row[:-1], datetime.fromtimestamp(row[-1], UTC)))
        else:
            placeholders = ", ".join(["%s"] * (len(rows[0]) - 1))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) "
                f"VALUES ({placeholders}, strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, 'unixepoch'))",
                rows,
            )


def _sample_row(row: SampleRow, host: str) -> tuple:
    operation, duration, ok, error, context, ended = row
    if not context:
        return (operation[:64], duration, ok, error[:200], "", "", "", "", "", "", host, "{}",
                ended)  # fmt: skip
    columns = [str(context.get(name, ""))[:200] for name in COLUMN_ORDER]
    columns[-1] = columns[-1] or host
    extras = {k: _json_safe(v) for k, v in context.items() if k not in CONTEXT_COLUMNS}
    return (operation[:64], duration, ok, error[:200], *columns,
            json.dumps(extras) if extras else "{}", ended)  # fmt: skip


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    return str(value)


buffer = SampleBuffer(
    batch_size=settings.PERF_BATCH_SIZE,
    flush_interval=settings.PERF_FLUSH_INTERVAL,
    limit=settings.PERF_BUFFER_LIMIT,
    enabled=settings.PERF_RECORDING_ENABLED,
)


def _flush_at_exit() -> None:
    try:
        buffer.flush(quiet=True)
    finally:
        connections.close_all()


os.register_at_fork(after_in_child=buffer.after_fork)


# atexit covers ordinary processes; multiprocessing children (django-q2 workers) leave through
# os._exit, which skips atexit but runs multiprocessing's finalizers.
atexit.register(_flush_at_exit)
multiprocessing.util.Finalize(None, _flush_at_exit, exitpriority=100)


class Measurement:
    """Time a block (`with` / `async with`) or every call of a function (decorator).

    Use it as `measure_performance(operation, **context)`. `context` may carry skill, version,
    environment_key, workflow, step, agent and host (kept in indexed columns) and anything else
    (kept as JSON). `.fail(reason)` marks the call failed; so does an exception escaping the
    block (its class name is the error). After the block, `.duration` holds the seconds.
    """

    __slots__ = ("operation", "context", "_started", "duration", "ok", "error")

    def __init__(self, operation: str, /, **context: Any):
        self.operation = operation
        self.context = context
        self.duration: float | None = None
        self.ok = True
        self.error = ""

    def fail(self, error: str = "failed") -> None:
        """Record the call as not ok without raising (e.g. a skill returned an error)."""
        self.ok = False
        self.error = error

    def __enter__(self) -> Measurement:
        self._started = _perf_counter()
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        ended = _perf_counter()
        self.duration = duration = ended - self._started
        if exc_type is not None:
            self.ok = False
            self.error = exc_type.__name__
        buffer.add(
            (self.operation, duration, self.ok, self.error, self.context, _wall_clock()), ended
        )
        return False

    async def __aenter__(self) -> Measurement:
        self._started = _perf_counter()
        return self

    async def __aexit__(self, exc_type, exc, traceback) -> bool:
        return self.__exit__(exc_type, exc, traceback)

    def __call__(self, function: F) -> F:
        """Use as a decorator: every call of `function` is one sample."""
        operation, context = self.operation, self.context
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def timed_coroutine(*args, **kwargs):
                async with Measurement(operation, **context):
                    return await function(*args, **kwargs)

            return timed_coroutine  # type: ignore[return-value]

        @functools.wraps(function)
        def timed(*args, **kwargs):
            with Measurement(operation, **context):
                return function(*args, **kwargs)

        return timed  # type: ignore[return-value]


# The class itself is the public entry point: one call less on every measured path.
measure_performance = Measurement


def record_sample(
    operation: str, duration: float, *, ok: bool = True, error: str = "", **context: Any
) -> None:
    """Record a duration measured elsewhere (e.g. reported back by a runner process)."""
    if duration < 0 or math.isnan(duration):
        raise ValueError(f"duration must be a non-negative number of seconds, not {duration!r}")
    buffer.add((operation, float(duration), ok, error, context, _wall_clock()), _perf_counter())


def flush() -> int:
    """Write every buffered sample now (sync code); returns how many were written."""
    return buffer.flush()


async def aflush() -> int:
    """Write every buffered sample now (async code)."""
    return await buffer.aflush()


def flush_if_due(**_signal_arguments: Any) -> None:
    """Write the buffer if it is full or old enough (a signal receiver)."""
    buffer.flush_if_due()
