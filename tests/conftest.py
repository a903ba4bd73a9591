"""Shared fixtures: the services each leg needs, and an environment for the processes
(workers, web, runners) that tests start against the test database."""

import os
import socket
import sys
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from atom_site.config import POSTGRESQL_ENGINE, SQLITE_ENGINE

ROOT = Path(__file__).resolve().parent.parent
CONFIGURED_NAME = settings.DATABASES["default"]["NAME"]  # before a test database replaces it

# The bad-input sweep's property tests (tests/**/test_hostile_*.py): the same examples on every
# run, so CI never fails on an input the last run did not try. `HYPOTHESIS_PROFILE=explore`
# draws new ones each run, for hunting (see docs/reliability.md). Each test sets its own
# `max_examples`. The autouse fixtures (a fast hasher, an empty cache) may be shared by a test's
# examples, hence the health check left out.
_hostile_common = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
hypothesis_settings.register_profile("ci", derandomize=True, **_hostile_common)
hypothesis_settings.register_profile("explore", derandomize=False, **_hostile_common)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _services_unreachable() -> list[str]:
    """Name the configured outside services that do not answer."""
    problems = []
    database = settings.DATABASES["default"]
    if database["ENGINE"] == POSTGRESQL_ENGINE:
        import psycopg

        try:
            psycopg.connect(
                host=database["HOST"] or "127.0.0.1",
                port=database["PORT"] or 5432,
                user=database["USER"],
                password=database["PASSWORD"] or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg.Error as error:
            problems.append(f"PostgreSQL ({error})")
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3).ping()
        except redis.RedisError as error:
            problems.append(f"Redis ({error})")
    return problems


def pytest_sessionstart(session: pytest.Session) -> None:
    problems = _services_unreachable()
    if not problems:
        return
    message = "cannot reach " + ", ".join(problems)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.exit(f"{message}: this leg must run in CI", returncode=1)
    pytest.exit(f"{message}: leg skipped (outside CI)", returncode=0)


def database_url_for_processes() -> str:
    """A DATABASE_URL naming the database this test session really uses."""
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"] == SQLITE_ENGINE:
        return f"sqlite:///{Path(database['NAME']).resolve()}"
    user = database["USER"] or "postgres"
    host = database["HOST"] or "127.0.0.1"
    port = database["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{database['NAME']}"


@pytest.fixture
def process_env(transactional_db) -> dict[str, str]:
    """Environment for a subprocess that must see this test's database, cache and layer."""
    return environment_for_processes()


def environment_for_processes() -> dict[str, str]:
    """The environment of `process_env`, for module-scoped processes (a server that several
    tests share) started once the test database exists."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_processes(),
        REDIS_URL=settings.REDIS_URL,
        ATOM_DATA_DIR=str(settings.ATOM_DATA_DIR),
        ATOM_KEY_PREFIX=settings.ATOM_KEY_PREFIX,
        SECRET_KEY=settings.SECRET_KEY,
        DJANGO_SETTINGS_MODULE="atom_site.settings",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def manage_py() -> list[str]:
    return [sys.executable, str(ROOT / "manage.py")]


@pytest.fixture(autouse=True)
def _samples_stay_in_their_test():
    """The sample writer flushes on a timer: what a test buffered and did not write must not
    be written a second later into the next test's database."""
    yield
    from perf.recording import buffer

    buffer.clear()


@pytest.fixture(scope="session", autouse=True)
def _test_database_left_droppable(django_db_setup, django_db_blocker):
    """Before the test database is dropped: samples left in the buffer must not be flushed
    into it at exit, and on PostgreSQL no other session may hold it (background threads of
    this process — the sample writer, the event publisher — keep their own connections, and
    DROP DATABASE fails while one is open, leaving the database behind on the server)."""
    yield
    from django.db import connection

    from perf.recording import buffer

    buffer.clear()
    # pytest-django makes a test database only when a collected test asks for one: otherwise
    # the connection still names the configured database, whose sessions are not ours to end.
    if connection.vendor == "postgresql" and connection.settings_dict["NAME"] != CONFIGURED_NAME:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _broken_connections_replaced():
    """A test whose connection the server ended must not fail every test after it: between two
    tests, what Django does between two requests (`close_if_unusable_or_obsolete`), for a
    connection that saw an error and no longer answers. Outside a transaction only: a test's
    own transaction is pytest-django's to roll back."""
    yield
    from django.db import connections

    for wrapper in connections.all(initialized_only=True):
        if (
            wrapper.connection is not None
            and wrapper.errors_occurred
            and not wrapper.in_atomic_block
            and not wrapper.is_usable()
        ):
            wrapper.close()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (diskcache or Redis, per leg).

    On Redis only this run's keys go (its cache and channel layer share ATOM_KEY_PREFIX):
    `cache.clear()` is FLUSHDB, which would also wipe the groups and messages of other test
    runs sharing the server, and make their live-event tests fail at random.
    """
    from django.core.cache import cache

    from atom_site.generations import process_copies_forget

    process_copies_forget()  # rows copied under a generation this cleared cache no longer holds
    if not settings.REDIS_URL:
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{settings.ATOM_KEY_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)
