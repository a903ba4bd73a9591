import socket
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from atom_site.accounts import admin_ensure


@pytest.mark.django_db
def test_admin_ensure_generates_a_password_once():
    first = admin_ensure(username="root", email="root@example.com")
    second = admin_ensure(username="root", email="root@example.com")

    assert first.created
    assert first.generated_password
    assert not second.created
    assert second.generated_password is None
    user = get_user_model().objects.get(username="root")
    assert user.is_superuser
    assert user.check_password(first.generated_password)


@pytest.mark.django_db
def test_admin_ensure_uses_the_given_password():
    account = admin_ensure(username="ops", email="ops@example.com", password="s3cret-words")
    assert account.generated_password is None
    assert get_user_model().objects.get(username="ops").check_password("s3cret-words")


def test_up_refuses_a_taken_port_and_exits_non_zero(manage_py, process_env):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [*manage_py, "up", "--port", str(port)],
            env=process_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connection pool")
def test_up_names_what_the_server_refuses_at_once_and_creates_nothing(manage_py, process_env):
    """Through the pool a refused connection would surface as a pool timeout after 10 s. A
    missing database `make up` creates (tested with `postgresql_databases_check`); a missing role
    it cannot, and says so in the server's words."""
    server, _ = process_env["DATABASE_URL"].rsplit("/", 1)
    url = server.replace("://postgres@", "://atom_no_such_role@") + "/atom_no_such_db"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        [*manage_py, "up", "--port", str(port)],
        env={**process_env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "DATABASE_URL: connection failed" in result.stderr
    assert 'role "atom_no_such_role" does not exist' in result.stderr
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'atom_no_such_db'")
        assert cursor.fetchone() is None
