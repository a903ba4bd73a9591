"""Django for a notebook: configured from the server's environment variables, the database
checked before the first call, and every ORM call run where Django allows it.

Jupyter executes cells inside a running asyncio event loop, where Django refuses synchronous
ORM calls (`SynchronousOnlyOperation`). Rather than switching that safety off with
`DJANGO_ALLOW_ASYNC_UNSAFE`, `in_orm_thread` runs the call in one dedicated worker thread
whenever an event loop runs in the calling thread, and waits for it: the cell blocks as any
synchronous call would, and the ORM never runs on the event loop's thread. Outside an event
loop (a script, a test) the call runs where it is.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atom-orm")
_ready_lock = threading.Lock()
_state = {"is_ready": False}


class SetupRequired(RuntimeError):
    """Atom cannot answer yet: the message says what to call or run first."""


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def in_orm_thread[**Params, Result](function: Callable[Params, Result]) -> Callable[Params, Result]:
    """Run `function` on Atom's ORM thread when the caller runs inside an event loop."""

    @functools.wraps(function)
    def call(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        if _event_loop_running():
            return _executor.submit(function, *args, **kwargs).result()
        return function(*args, **kwargs)

    return call


def django_configure() -> None:
    """Django set up from the same variables as the server (DATABASE_URL, ATOM_DATA_DIR…)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atom_site.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    # One INFO line per enqueued task is the server's log, not a notebook's output.
    logging.getLogger("django-q").setLevel(logging.WARNING)


def _database_name() -> str:
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"SQLite file {database['NAME']}"
    return f"PostgreSQL database {database['NAME']!r} on {database['HOST'] or 'localhost'}"


def _migrations_pending() -> list[str]:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


@in_orm_thread
def setup(*, migrate: bool = False) -> str:
    """Check (or, with `migrate=True`, bring up to date) the database Atom's settings name.

    Raises `SetupRequired` saying what to run when migrations are pending and `migrate` is off.
    Returns a one-line description of the database in use.
    """
    django_configure()
    with _ready_lock:
        pending = _migrations_pending()
        if pending and migrate:
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
            pending = _migrations_pending()
        if pending:
            _state["is_ready"] = False
            raise SetupRequired(
                f"the {_database_name()} is not migrated ({len(pending)} migration(s) pending, "
                f"first {pending[0]}): call atom.setup(migrate=True), or run "
                "`python manage.py migrate` in the project folder"
            )
        _state["is_ready"] = True
    return f"Atom on the {_database_name()}"


def ready_require() -> None:
    """Called by every public function first: checks the database once per kernel."""
    if not _state["is_ready"]:
        setup()


def in_orm_thread_ready[**Params, Result](
    function: Callable[Params, Result],
) -> Callable[Params, Result]:
    """`in_orm_thread`, after the database has been checked (`SetupRequired` otherwise)."""

    threaded = in_orm_thread(function)

    @functools.wraps(function)
    def call(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        ready_require()
        return threaded(*args, **kwargs)

    return call
