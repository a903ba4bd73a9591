"""Writes on hot paths as plain SQL: built without the ORM's compiler, sent in one trip.

A warm run through the API writes its row as the call starts and its result after. Through the
ORM, building those statements cost several times what the database spent running them, and
on PostgreSQL every statement, `BEGIN`, `SET LOCAL` and `COMMIT` was a round trip of its own.
Values here go through the field methods the ORM's compiler calls (`pre_save`,
`get_db_prep_save`), so the rows are the ORM's (a test compares them); no signals are sent
(none are connected to the models written this way). On PostgreSQL a write can also be sent
ahead and its answer read later (`statements_sent`): the round trip overlaps the caller's work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    return instance_saved(instance, pk=pk, using=using)


def instance_saved(instance: Model, *, pk: Any, using: str) -> Model:
    """An instance whose row `row_insert` wrote (as `pk`), made saved as the ORM makes it."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    return instance


# Statements sent ahead of the caller's own work ------------------------------------------------


def can_send_ahead(*, using: str = "default") -> bool:
    """Whether statements can be sent now and answered later (`statements_sent`): on
    PostgreSQL with client-side binding (through Atom's backend), outside a transaction."""
    connection = connections[using]
    return (
        is_one_trip(connection)
        and hasattr(connection, "in_flight")
        and not connection.in_atomic_block
    )


class StatementsInFlight:
    """Statements sent on a connection whose answer is not read yet (`statements_sent`). The
    connection reads it before its next use or its close (atom_site/backends/postgresql), so
    a caller that has no use for the rows need not ask; `on_result` is given them then."""

    def __init__(
        self, connection: Any, count: int, on_result: Callable[[list[list[tuple]]], None] | None
    ) -> None:
        self.connection = connection
        self.count = count
        self.on_result = on_result
        self._found: list[list[tuple]] | None = None

    def result(self) -> list[list[tuple]]:
        """Each statement's rows, as `statements_run` returns them; raises what the database
        raised (the statements ran as one transaction: none of them is kept then)."""
        if self._found is None:
            try:
                self._found = self._read()
            finally:
                if self in self.connection.in_flight:
                    self.connection.in_flight.remove(self)
            if self.on_result is not None:
                self.on_result(self._found)
        return self._found

    def _read(self) -> list[list[tuple]]:
        from psycopg import errors, pq
        from psycopg.adapt import Transformer
        from psycopg.generators import fetch_many

        database = self.connection.connection
        with self.connection.wrap_database_errors:
            results = database.wait(fetch_many(database.pgconn))
            for answer in results:
                if answer.status == pq.ExecStatus.FATAL_ERROR:
                    raise errors.error_from_result(answer, encoding=database.info.encoding)
        loader = Transformer(database)
        found = []
        for answer in results[: self.count]:
            loader.set_pgresult(answer)
            found.append(loader.load_rows(0, answer.ntuples, tuple))
        return found


def statements_sent(
    statements: Sequence[Statement],
    *,
    is_flush_awaited: bool = True,
    using: str = "default",
    on_result: Callable[[list[list[tuple]]], None] | None = None,
) -> StatementsInFlight:
    """Send `statements` as one transaction in one query string, as `statements_run` does,
    without waiting for the answer: the caller works while the server does (a warm run's
    call while its row is written). The answer is read by `.result()`, or by the connection
    before its next use or its close, or before the response leaves (then an error is a 500).
    Only where `can_send_ahead`."""
    from psycopg.generators import send

    connection = connections[using]
    connection.in_flight_awaited()  # one query in flight at a time
    connection.ensure_connection()
    sql = connection.ops.compose_sql(
        "; ".join(statement.sql for statement in statements),
        [param for statement in statements for param in statement.params],
    )
    if not is_flush_awaited:
        sql = flush_not_awaited(sql, connection)
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": "0.000"})
    database = connection.connection
    with connection.wrap_database_errors:
        database.pgconn.send_query(sql.encode(database.info.encoding))
        database.wait(send(database.pgconn))
    in_flight = StatementsInFlight(connection, len(statements), on_result)
    connection.in_flight.append(in_flight)
    return in_flight
