"""Commits that need not wait for the disk.

`commit_without_waiting_for_the_flush()`, called inside `transaction.atomic()`, makes that
transaction's commit return before its WAL reaches the disk (PostgreSQL; SQLite has nothing to
change). Only a crash of the database server can lose such a commit, and then only with the
commits after it: for counters and last-used times, and for a workflow step's success (which
the reaper recovers), that costs nothing that matters (docs/decisions.md, "A step's commit
does not wait for the disk").
"""

from django.db import connection


def commit_without_waiting_for_the_flush() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
