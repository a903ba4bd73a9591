"""Writes on hot paths as plain SQL: built without the ORM's compiler, sent in one trip.

A warm run through the API writes its row as the call starts and its result after. Through the
ORM, building those statements cost several times what the database spent running them, and
on PostgreSQL every statement, `BEGIN`, `SET LOCAL` and `COMMIT` was a round trip of its own.
Values here go through the field methods the ORM's compiler calls (`pre_save`,
`get_db_prep_save`), so the rows are the ORM's (a test compares them); no signals are sent
(none are connected to the models written this way). On a database server a write can also
travel while the caller goes on (`write_beside`): the round trip overlaps the caller's work.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import Model

from atom_site.transactions import flush_not_awaited, is_one_trip


@dataclass(frozen=True)
class Statement:
    sql: str
    params: list[Any]


def row_insert(instance: Model, *, using: str = "default") -> Statement:
    """`INSERT` of an unsaved instance's row, returning its new primary key."""
    connection = connections[using]
    meta = instance._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.generated and field != meta.pk]
    names = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    return Statement(
        f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks})"
        f" RETURNING {quote(meta.pk.column)}",
        [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields],
    )


def row_update(
    model: type[Model], pk: Any, values: Mapping[str, Any], *, using: str = "default"
) -> Statement:
    """`UPDATE` of one row's fields to plain values (not expressions), as `.update()` writes."""
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return Statement(
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s",
        [field.get_db_prep_save(values[field.name], connection) for field in fields] + [pk],
    )


def statements_run(
    statements: Sequence[Statement], *, is_flush_awaited: bool = True, using: str = "default"
) -> list[list[tuple]]:
    """Run `statements` as one transaction (or in the caller's) and return each one's rows.

    On PostgreSQL they go as one query string in one round trip: the server runs such a string
    as one implicit transaction, `SET LOCAL` included (docs/decisions.md, "A run's writes in
    one trip"). Elsewhere they run one after the other in `transaction.atomic()`.
    `is_flush_awaited=False`: the commit need not wait for the disk (atom_site/transactions).
    """
    connection = connections[using]
    if not is_one_trip(connection):
        together = transaction.atomic(using=using) if len(statements) > 1 else nullcontext()
        with together, connection.cursor() as cursor:
            return [_executed(cursor, statement.sql, statement.params) for statement in statements]
    sql = "; ".join(statement.sql for statement in statements)
    params = [param for statement in statements for param in statement.params]
    if not is_flush_awaited:
        sql = flush_not_awaited(sql, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = [cursor.fetchall() if cursor.description else []]
        while len(found) < len(statements) and cursor.nextset():
            found.append(cursor.fetchall() if cursor.description else [])
    return found


def _executed(cursor: Any, sql: str, params: list[Any]) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall() if cursor.description else []


def instance_insert(instance: Model, *, is_flush_awaited: bool = True) -> Model:
    """Save a new instance with one `INSERT` (one round trip); the instance becomes saved."""
    using = instance._state.db or "default"
    [[(pk,)]] = statements_run(
        [row_insert(instance, using=using)], is_flush_awaited=is_flush_awaited, using=using
    )
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    return instance


# Writes made beside the caller's own work ----------------------------------------------------

WRITER_THREADS = 8
_writers: tuple[int, ThreadPoolExecutor] | None = None
_writers_lock = threading.Lock()


def can_write_beside(*, using: str = "default") -> bool:
    """Whether a write can travel while the caller goes on: on a database server (a round
    trip each), outside a transaction (the write would not be part of it)."""
    connection = connections[using]
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def write_beside[T](function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """`function(*args, **kwargs)` in a writer thread of this process, on that thread's own database
    connections (pooled ones go back to their pool when it returns), while the caller does
    something else; the caller takes the outcome with `.result()` before it writes after it.
    See `can_write_beside` for when that keeps the caller's meaning."""
    return _writer_threads().submit(_on_own_connections, function, *args, **kwargs)


def _on_own_connections[T](function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


def _writer_threads() -> ThreadPoolExecutor:
    """This process's writer threads (a forked child has none of its parent's threads)."""
    global _writers
    pid = os.getpid()
    if _writers is None or _writers[0] != pid:
        with _writers_lock:
            if _writers is None or _writers[0] != pid:
                threads = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="atom-writer")
                _writers = (pid, threads)
    return _writers[1]
