"""A second database connection for the half of a search that can run beside the other half.

A common term's facet cells and its ranked page each read every match. On two connections at
once they take about the longer of the two instead of their sum: both databases serve two
readers in parallel, and psycopg and sqlite3 release the GIL while the database works.

A helper's connection sees only committed rows, so inside `atomic()` (a test case, a notebook's
transaction, a view under ATOMIC_REQUESTS) nothing is handed over, as when every helper is
busy or `MARKETPLACE_SEARCH_HELPERS` is 0: the caller then runs its usual single-connection
plan. A pooled connection (PostgreSQL) goes back to its pool after each search; otherwise a
helper keeps its connection open between searches, and closes it after an error.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_free: threading.BoundedSemaphore | None = None


def beside[T](work: Callable[[], T]) -> Callable[[], T] | None:
    """Start `work` on a helper thread and return a function giving its result, or None when
    no helper can take it (the caller's transaction, all helpers busy, helpers off).

    The result function waits for the helper; if the helper's database work failed (its
    connection dropped by a database restart, say) it runs `work` again in the caller.
    """
    if connection.in_atomic_block:
        return None
    taken = _helper_taken()
    if taken is None:
        return None
    executor, free = taken
    future = executor.submit(_on_helper, work, free)

    def result() -> T:
        try:
            return future.result()
        except DatabaseError:
            return work()

    return result


def _helper_taken() -> tuple[ThreadPoolExecutor, threading.BoundedSemaphore] | None:
    global _executor, _free
    count = settings.MARKETPLACE_SEARCH_HELPERS
    if count <= 0:
        return None
    with _lock:
        if _executor is None or _free is None:
            _free = threading.BoundedSemaphore(count)
            _executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="atom-search")
        executor, free = _executor, _free
    return (executor, free) if free.acquire(blocking=False) else None


def _on_helper[T](work: Callable[[], T], free: threading.BoundedSemaphore) -> T:
    try:
        return work()
    finally:
        _connection_put_away()
        free.release()


def _connection_put_away() -> None:
    """A pooled connection goes back to its pool after each search (cheap), and any connection
    after an error; otherwise the helper keeps it for the next search: a new SQLite connection
    costs about as much as a small search."""
    if connection.errors_occurred or getattr(connection, "pool", None) is not None:
        connection.close()


def _forget_helpers() -> None:
    """In a forked child the helper threads are gone: start afresh on first use."""
    global _executor, _free
    _executor, _free = None, None


os.register_at_fork(after_in_child=_forget_helpers)
