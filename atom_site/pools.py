"""PostgreSQL connection pools across `fork`: a child never uses its parent's connections.

django-q2 forks its workers from a process that has used the database. A child inheriting the
parent's psycopg pool would hand out the parent's sockets, and two processes talking over one
connection corrupt each other's sessions. After a fork the child forgets the inherited pools
(it opens its own on first use) and any connection the forking thread held, but keeps them
referenced: collecting them would close their sockets, which ends the parent's sessions too.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connections

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
