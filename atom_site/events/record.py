"""Writing live events: each one persisted with its subject's next sequence number, in the
transaction of the change it describes, and published on the channel layer once that commits.

The sequence number comes from one upsert of the subject's `EventStream` row (`INSERT … ON
CONFLICT DO UPDATE … RETURNING`): the row stays locked until the transaction ends, so a second
writer of the same subject waits and takes the next number, and numbers are handed out in the
order the transactions commit (PostgreSQL re-reads the row it waited for; SQLite has one
writer). A rolled-back change takes its numbers with it: no gap, no event for a change that
never happened.

Log lines are different: a chatty skill prints thousands a second, and one event (and one
channel-layer message) per line would overflow channels-redis's channel capacity. Lines are
kept in memory (`LOGS`) and written as one "log" event per subject every `FLUSH_SECONDS`, or
at once when `MAX_LINES` wait. A producer flushes its subject's lines before writing a state
change (outside any transaction), so lines always come before the change that ends them.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from atom_site.events.publish import publisher
from atom_site.models import Event, EventStream

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1
MAX_LINES = 500
MAX_LINE_CHARS = 10_000
# What one call may stream of its output (its record keeps an excerpt either way).
MAX_LINES_PER_CALL = 100_000


@dataclass(frozen=True, slots=True)
class Subject:
    """What events are about: a workflow run ("run"), an install job ("install") or a queued
    skill run ("skill_run"), by primary key."""

    kind: str
    pk: int

    @property
    def group(self) -> str:
        """The channel-layer group its websockets listen on."""
        return f"live.{self.kind}.{self.pk}"


SUBJECT_KINDS = ("run", "install", "skill_run")


def _seq_allocate(subject: Subject, count: int) -> int:
    """Reserve `count` sequence numbers for `subject`; returns the last of them."""
    quote = connection.ops.quote_name
    table = quote(EventStream._meta.db_table)
    last = quote("last_seq")
    sql = (
        f"INSERT INTO {table} ({quote('subject')}, {quote('subject_id')}, {last}) "
        f"VALUES (%s, %s, %s) ON CONFLICT ({quote('subject')}, {quote('subject_id')}) "
        f"DO UPDATE SET {last} = {table}.{last} + excluded.{last} RETURNING {last}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [subject.kind, subject.pk, count])
        return cursor.fetchone()[0]


def events_record(subject: Subject, entries: Sequence[tuple[str, dict[str, Any]]]) -> list[dict]:
    """Persist `entries` ((kind, fields) pairs) as the subject's next events, in the current
    transaction (or one of their own), and publish them once it commits. Returns the events as
    messages."""
    if not entries:
        return []
    with transaction.atomic(savepoint=False):
        last = _seq_allocate(subject, len(entries))
        first = last - len(entries) + 1
        now = timezone.now()
        rows = [
            Event(
                subject=subject.kind,
                subject_id=subject.pk,
                seq=first + index,
                at=now,
                kind=kind,
                data=fields,
            )
            for index, (kind, fields) in enumerate(entries)
        ]
        _events_insert(rows)
        messages = [row.as_message() for row in rows]
        transaction.on_commit(lambda: _publish(subject, messages))
    return messages


# Rows a statement inserts at most (six parameters each: far below SQLite's limit).
INSERT_ROWS = 100


def _events_insert(rows: list[Event]) -> None:
    """`Event.objects.bulk_create(rows)` as plain INSERTs: every state change of a workflow step
    writes its events, and the queryset's compiler cost more than the database's own work."""
    quote = connection.ops.quote_name
    columns = ("subject", "subject_id", "seq", "at", "kind", "data")
    data_field = Event._meta.get_field("data")
    head = (
        f"INSERT INTO {quote(Event._meta.db_table)} "
        f"({', '.join(quote(column) for column in columns)}) VALUES "
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            params: list[Any] = []
            for row in chunk:
                params += [
                    row.subject,
                    row.subject_id,
                    row.seq,
                    connection.ops.adapt_datetimefield_value(row.at),
                    row.kind,
                    data_field.get_db_prep_save(row.data, connection),
                ]
            cursor.execute(head + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk)), params)


def event_record(subject: Subject, kind: str, **fields: Any) -> dict:
    """One event; see `events_record`."""
    return events_record(subject, [(kind, fields)])[0]


def _publish(subject: Subject, messages: list[dict]) -> None:
    for message in messages:
        publisher.publish(subject.group, message)


# Log lines -----------------------------------------------------------------------------------


class LogBuffer:
    """Log lines waiting to be written, per subject (and step), flushed by a daemon thread."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: dict[Subject, list[tuple[str | None, list[str]]]] = {}
        self._counts: dict[Subject, int] = {}
        self._thread: threading.Thread | None = None

    def add(self, subject: Subject, lines: Sequence[str], *, step: str | None = None) -> None:
        if not lines:
            return
        lines = [line[:MAX_LINE_CHARS] for line in lines]
        with self._lock:
            batches = self._pending.setdefault(subject, [])
            if batches and batches[-1][0] == step:
                batches[-1][1].extend(lines)
            else:
                batches.append((step, list(lines)))
            count = self._counts[subject] = self._counts.get(subject, 0) + len(lines)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="atom-log-flusher", daemon=True
                )
                self._thread.start()
        # Inside a transaction the write would wait for our own lock on SQLite: the thread
        # writes them instead.
        if count >= MAX_LINES and not connection.in_atomic_block:
            self.flush(subject)

    def flush(self, subject: Subject | None = None) -> int:
        """Write the lines waiting (for `subject`, or every subject); returns the events written.

        Called inside a transaction, `subject`'s lines are written in it without waiting for
        the writer thread: that thread may be waiting for the subject's counter row, which this
        transaction holds once it has written one of the subject's events (on PostgreSQL the two
        would wait for each other for good)."""
        if subject is not None and connection.in_atomic_block:
            return self._write(self._take(subject))
        with self._write_lock:
            return self._write(self._take(subject))

    def _take(self, subject: Subject | None) -> dict[Subject, list[tuple[str | None, list[str]]]]:
        with self._lock:
            if subject is None:
                taken, self._pending, self._counts = self._pending, {}, {}
                return taken
            self._counts.pop(subject, None)
            return {subject: self._pending.pop(subject)} if subject in self._pending else {}

    def _write(self, taken: dict[Subject, list[tuple[str | None, list[str]]]]) -> int:
        """Write each subject's lines; a subject whose write fails (the database is away) and
        those after it go back to the front of the queue, for the next flush."""
        written = 0
        owners = list(taken)
        for position, owner in enumerate(owners):
            try:
                written += self._write_one(owner, taken[owner])
            except Exception:
                self._requeue({left: taken[left] for left in owners[position:]})
                raise
        return written

    def _requeue(self, taken: dict[Subject, list[tuple[str | None, list[str]]]]) -> None:
        with self._lock:
            for owner, batches in taken.items():
                self._pending[owner] = batches + self._pending.get(owner, [])
                lines = sum(len(lines) for _, lines in batches)
                self._counts[owner] = self._counts.get(owner, 0) + lines

    def _write_one(self, owner: Subject, batches: list[tuple[str | None, list[str]]]) -> int:
        entries = []
        for step, lines in batches:
            for start in range(0, len(lines), MAX_LINES):
                fields: dict[str, Any] = {"lines": lines[start : start + MAX_LINES]}
                if step is not None:
                    fields = {"step": step, **fields}
                entries.append(("log", fields))
        events_record(owner, entries)
        return len(entries)

    def after_fork(self) -> None:
        self._reset()

    def _loop(self) -> None:
        """Flush every `FLUSH_SECONDS` for the life of the process: nothing may end this
        thread (a database that is restarting makes even the connection check raise), or
        every later line of this process would wait for a state change to be written.

        A flush that fails drops the thread's connection: the database may have gone in the
        middle of a transaction's end, after its commit but before autocommit came back on,
        and a connection left so would take the next flush into a transaction nobody commits
        (its lines lost when the connection is closed as obsolete). The lines of a failed flush
        are queued again, so a line may be written twice, never lost."""
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:
                logger.exception("could not write log lines as events")
                _connection_dropped()
            try:
                close_old_connections()
            except Exception:
                logger.exception("could not check the log writer's database connection")


def _connection_dropped() -> None:
    """Close this thread's connection whatever state it is in (the next query opens one)."""
    try:
        connection.close()
    except Exception:
        logger.exception("could not close the log writer's database connection")


LOGS = LogBuffer()


def log_lines_add(subject: Subject, lines: Sequence[str], *, step: str | None = None) -> None:
    """Queue log lines of `subject` to be written (and published) as batched "log" events."""
    LOGS.add(subject, lines, step=step)


def log_lines_flush(subject: Subject) -> None:
    """Write `subject`'s waiting lines now: before a state change, so lines come first."""
    LOGS.flush(subject)


class LineSplitter:
    """Turns the chunks a process prints into whole lines for a subject's log: at most
    `MAX_LINES_PER_CALL` of them, then one line saying the rest is not streamed."""

    def __init__(self, subject: Subject, step: str | None) -> None:
        self.subject = subject
        self.step = step
        self._partial: dict[str, bytes] = {}
        self._left = MAX_LINES_PER_CALL

    def __call__(self, stream: str, chunk: bytes) -> None:
        if self._left <= 0:
            return
        data = self._partial.get(stream, b"") + chunk
        *whole, rest = data.split(b"\n")
        self._partial[stream] = rest[:MAX_LINE_CHARS]
        if not whole:
            return
        lines = [line.decode("utf-8", errors="replace") for line in whole[: self._left]]
        self._left -= len(whole)
        if self._left <= 0:
            lines.append(
                f"[atom: more than {MAX_LINES_PER_CALL:,} lines; the rest is not streamed]"
            )
        log_lines_add(self.subject, lines, step=self.step)

    def close(self) -> None:
        rest = [part for part in self._partial.values() if part] if self._left > 0 else []
        self._partial = {}
        if rest:
            lines = [part.decode("utf-8", errors="replace") for part in rest]
            log_lines_add(self.subject, lines, step=self.step)


@contextlib.contextmanager
def output_streamed(subject: Subject, *, step: str | None = None) -> Iterator[None]:
    """While in the block, what a skill called in this thread prints becomes the subject's log
    lines; they are all written when the block ends."""
    from skills.runtime import output_listener

    splitter = LineSplitter(subject, step)
    token = output_listener.set(splitter)
    try:
        yield
    finally:
        output_listener.reset(token)
        splitter.close()
        try:
            log_lines_flush(subject)
        except Exception:
            logger.exception("could not write the log lines of %s %s", subject.kind, subject.pk)


def _flush_at_exit() -> None:
    try:
        LOGS.flush()
    except Exception:
        logger.exception("could not write log lines as events at exit")


os.register_at_fork(after_in_child=LOGS.after_fork)
# Before the publisher's own exit flush (threading's exit hooks run newest first), so the last
# lines are sent too; multiprocessing's finalizers run highest priority first.
getattr(threading, "_register_atexit", atexit.register)(_flush_at_exit)
multiprocessing.util.Finalize(None, _flush_at_exit, exitpriority=101)
