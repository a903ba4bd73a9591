import threading
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from atom_site.config import (
    SQLITE_ENGINE,
    caches_for,
    database_from_url,
    redis_url_checked,
    secret_key_load_or_create,
)


def test_no_database_url_means_sqlite_in_wal_mode_with_immediate_transactions(tmp_path):
    config = database_from_url("", data_dir=tmp_path, conn_max_age=0)
    assert config["ENGINE"] == SQLITE_ENGINE
    assert config["NAME"] == str(tmp_path / "atom.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert "busy_timeout=20000" in config["OPTIONS"]["init_command"]


def test_no_redis_url_means_diskcache_in_the_data_dir_bounded_in_size(tmp_path):
    config = caches_for(redis_url="", data_dir=tmp_path, key_prefix="atom-7:")
    assert list(config) == ["default"]
    default = config["default"]
    assert default["BACKEND"] == "atom_site.cache.EmbeddedCache"
    assert default["LOCATION"] == str(tmp_path / "cache")
    assert default["KEY_PREFIX"] == "atom-7:"
    assert default["OPTIONS"]["size_limit"] == 256 * 2**20


def test_a_postgres_url_selects_psycopg(tmp_path):
    config = database_from_url(
        "postgres://atom:secret@db.internal:5433/catalog", data_dir=tmp_path, conn_max_age=30
    )
    assert config["ENGINE"] == "atom_site.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "catalog")
    assert (config["USER"], config["PASSWORD"], config["CONN_MAX_AGE"]) == ("atom", "secret", 30)
    assert "pool" not in config.get("OPTIONS", {})


def test_an_absolute_sqlite_url_is_used_as_given(tmp_path):
    config = database_from_url(
        f"sqlite:///{tmp_path}/x.db", data_dir=Path("/nowhere"), conn_max_age=0
    )
    assert config["NAME"] == str(tmp_path / "x.db")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "DATABASE_URL: 'not a url' is not a URL"),
        ("mysql://root@localhost/atom", "DATABASE_URL: unsupported scheme 'mysql'"),
        ("postgres://postgres@127.0.0.1:port/atom", "DATABASE_URL: the port is not a number"),
        ("postgres://postgres@127.0.0.1:5432/", "DATABASE_URL: a postgres URL needs a database"),
        ("postgres:///atom", "DATABASE_URL: a postgres URL needs a host"),
    ],
)
def test_a_malformed_database_url_names_the_variable(url, message, tmp_path):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url, data_dir=tmp_path, conn_max_age=0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost:6379", "REDIS_URL: 'localhost:6379' is not a URL"),
        ("http://localhost:6379/0", "REDIS_URL: unsupported scheme 'http'"),
        ("redis://localhost:99999/0", "REDIS_URL: the port is not a number"),
        ("redis://localhost:6379/zero", "REDIS_URL: database 'zero' is not a number"),
    ],
)
def test_a_malformed_redis_url_names_the_variable(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        redis_url_checked(url)


def test_the_secret_key_is_created_once_and_shared_by_concurrent_starters(tmp_path):
    path = tmp_path / "secret_key"
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(secret_key_load_or_create(path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 50
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
