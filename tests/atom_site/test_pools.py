"""PostgreSQL connections come from a pool, and a forked child (a django-q2 worker) opens its
own instead of reusing the parent's."""

import os
import uuid

import psycopg
import pytest
from django.db import OperationalError, connection
from psycopg import sql

from atom_site.config import database_from_url
from atom_site.pools import postgresql_databases_check

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pool")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_pool_is_configured_unless_persistent_connections_are_asked_for(tmp_path):
    url = "postgres://postgres@127.0.0.1:5432/atom"
    pooled = database_from_url(url, data_dir=tmp_path, conn_max_age=0, pool_max_size=20)
    assert pooled["OPTIONS"]["pool"]["max_size"] == 20
    persistent = database_from_url(url, data_dir=tmp_path, conn_max_age=60, pool_max_size=20)
    assert "pool" not in persistent.get("OPTIONS", {})
    unpooled = database_from_url(url, data_dir=tmp_path, conn_max_age=0, pool_max_size=0)
    assert "pool" not in unpooled.get("OPTIONS", {})


def _pooled_pids() -> set[int]:
    """The server sessions the pool hands out over a few checkouts."""
    pids = set()
    for _ in range(4):
        pids.add(_backend_pid())
        connection.close()
    return pids


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_goes_back_to_the_pool():
    assert connection.pool is not None
    first = _pooled_pids()
    opened = connection.pool.get_stats().get("connections_num", 0)
    assert _pooled_pids() <= first
    assert connection.pool.get_stats().get("connections_num", 0) == opened


# A forked django-q2 worker is such a child: the fork is the point.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.django_db(transaction=True)
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone():
    parents = _pooled_pids()  # back in the pool, still open: what a child inherits
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, str(_backend_pid()).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        child_backend = int(pipe.read())
    assert child_backend not in parents
    assert _pooled_pids() <= parents  # the parent's sessions survived the child


def test_a_refused_connection_is_reported_in_the_servers_words_not_as_a_pool_timeout():
    from django.db.backends.postgresql.base import DatabaseWrapper

    missing = DatabaseWrapper({**connection.settings_dict, "NAME": "atom_no_such_db"}, "probe")
    assert missing.settings_dict["OPTIONS"]["pool"]
    with pytest.raises(OperationalError, match='database "atom_no_such_db" does not exist'):
        postgresql_databases_check([missing])  # not created unless asked
    assert postgresql_databases_check([connection]) == []  # the test database answers


@pytest.mark.django_db(transaction=True)
def test_a_database_the_server_does_not_have_is_created_once_and_one_it_has_left_alone():
    from django.db.backends.postgresql.base import DatabaseWrapper

    name = f'atom "created" {uuid.uuid4().hex[:8]}'  # quoted as a name, never as SQL
    missing = DatabaseWrapper({**connection.settings_dict, "NAME": name}, "probe")
    try:
        created = postgresql_databases_check([missing, connection], create_missing=True)
        again = postgresql_databases_check([missing], create_missing=True)
        postgresql_databases_check([missing])  # it answers now
    finally:
        with connection._nodb_cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    assert (created, again) == ([name], [])


@pytest.mark.django_db
def test_a_role_the_server_does_not_have_creates_nothing_and_is_reported():
    from django.db.backends.postgresql.base import DatabaseWrapper

    stranger = DatabaseWrapper(
        {**connection.settings_dict, "USER": "atom_no_such_role", "NAME": "atom_never"}, "probe"
    )

    with pytest.raises(OperationalError, match='role "atom_no_such_role" does not exist'):
        postgresql_databases_check([stranger], create_missing=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'atom_never'")
        assert cursor.fetchone() is None


@pytest.mark.django_db(transaction=True)
def test_taking_a_healthy_pooled_connection_asks_the_server_nothing(monkeypatch):
    from psycopg_pool import ConnectionPool

    asked = []
    original = ConnectionPool.check_connection
    monkeypatch.setattr(
        ConnectionPool, "check_connection", staticmethod(lambda conn: asked.append(original(conn)))
    )
    _pooled_pids()

    _pooled_pids()

    assert asked == []


@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_whose_session_the_server_ended_is_replaced_unnoticed():
    ended = _backend_pid()
    connection.close()  # back in the pool, idle
    with psycopg.connect(**connection.get_connection_params()) as administrator:
        # With a timeout it returns once the session has ended, its last word sent.
        administrator.execute("SELECT pg_terminate_backend(%s, 5000)", [ended])

    pids = _pooled_pids()  # every take is checked; each query answers

    assert ended not in pids
