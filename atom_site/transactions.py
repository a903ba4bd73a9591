"""Commits that need not wait for the disk.

`commit_without_waiting_for_the_flush()`, called inside `transaction.atomic()`, makes that
transaction's commit return before its WAL reaches the disk (PostgreSQL; SQLite has nothing to
change). `flush_not_awaited(sql)` does the same for a statement run on its own: on PostgreSQL
it appends `SET LOCAL synchronous_commit = off`, which the server runs in the same implicit
transaction as the statement and consults when that transaction commits, so one round trip
carries both. Only a crash of the database server can lose such a commit, and then only with
the commits after it: for counters and last-used times, for a run's record, and for a
workflow step's success (which the reaper recovers), that costs nothing that matters
(docs/decisions.md, "A step's commit does not wait for the disk").
"""

from typing import Any

from django.db import connection as default_connection

NOT_AWAITED = "SET LOCAL synchronous_commit = off"


def commit_without_waiting_for_the_flush() -> None:
    if default_connection.vendor == "postgresql":
        with default_connection.cursor() as cursor:
            cursor.execute(NOT_AWAITED)


def is_one_trip(connection: Any) -> bool:
    """Whether a string of several statements runs in one round trip on `connection`: on
    PostgreSQL, unless parameters are bound on the server (Django's `server_side_binding`),
    which allows one statement per query."""
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )


def flush_not_awaited(sql: str, connection: Any = default_connection) -> str:
    """`sql` whose commit need not wait for the disk: rows it returns are still the first
    result. Unchanged where that cannot travel with it."""
    return f"{sql}; {NOT_AWAITED}" if is_one_trip(connection) else sql
