"""PostgreSQL connection pools: a child never uses its parent's connections, and taking a
connection costs no round trip while it is healthy.

django-q2 forks its workers from a process that has used the database. A child inheriting the
parent's psycopg pool would hand out the parent's sockets, and two processes talking over one
connection corrupt each other's sessions. After a fork the child forgets the inherited pools
(it opens its own on first use) and any connection the forking thread held, but keeps them
referenced: collecting them would close their sockets, which ends the parent's sessions too.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

_inherited: list[object] = []
_is_registered = False


def pools_fork_safe() -> None:
    """Register the after-fork cleanup once per process, when a database uses a pool."""
    global _is_registered
    if _is_registered or not any(
        database.get("OPTIONS", {}).get("pool") for database in settings.DATABASES.values()
    ):
        return
    os.register_at_fork(after_in_child=inherited_pools_forget)
    _is_registered = True


def inherited_pools_forget() -> None:
    from django.db.backends.postgresql.base import DatabaseWrapper

    for wrapper in connections.all(initialized_only=True):
        if wrapper.vendor == "postgresql" and wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None
    _inherited.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools.clear()


def postgresql_databases_check(
    wrappers: Iterable[BaseDatabaseWrapper] | None = None, *, create_missing: bool = False
) -> list[str]:
    """Connect once to each PostgreSQL database without its pool, so that a server refusing the
    connection (no such database, a wrong password) is reported at once in its own words:
    through the pool the first query would retry until the pool's timeout, then say only that
    it got no connection. Raises Django's form of the driver's error.

    With `create_missing` (`make up` on a fresh server), a database its server says it does not
    have, asked through its maintenance database, is created first; the names created."""
    created = []
    for wrapper in connections.all() if wrappers is None else wrappers:
        if wrapper.vendor != "postgresql":
            continue
        try:
            wrapper.Database.connect(**wrapper.get_connection_params()).close()
        except wrapper.Database.OperationalError as refused:
            if create_missing and _database_created(wrapper):
                created.append(wrapper.settings_dict["NAME"])
                continue
            with wrapper.wrap_database_errors:
                raise refused from None
    return created


def _database_created(wrapper: BaseDatabaseWrapper) -> bool:
    """Create the wrapper's database if its server, reached through the maintenance database
    as the same role, does not have it. False if it has it or cannot be asked (an unknown
    role, no server): the connection's own refusal says why."""
    from psycopg import sql

    name = wrapper.settings_dict["NAME"]
    maintenance = {**wrapper.get_connection_params(), "dbname": "postgres"}
    try:
        with wrapper.Database.connect(**maintenance, autocommit=True) as server:
            if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                return False
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except wrapper.Database.Error:
        return False
    return True


def pooled_connection_check(connection: Any) -> None:
    """The pool's check of a connection it is about to hand out, without a round trip while
    the connection is healthy.

    Django's default check sends an empty query on every take: a round trip on every request,
    which costs a sizeable part of a fast call when a local server's process has to wake up
    (docs/decisions.md, "A run's writes in one trip"). An idle connection has nothing to read
    unless the server spoke first, and a server that ends a session (restarted, stopped, an
    administrator's `pg_terminate_backend`) sends its reason and closes the socket: so only a
    connection with something to read is asked, and the ask fails and the pool replaces it.
    What this cannot see is a server that vanished without a word (its host lost power, a
    firewall dropping the flow): the first query on that connection fails instead.
    """
    import psycopg
    from psycopg_pool import ConnectionPool

    if connection.closed or connection.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(connection)
