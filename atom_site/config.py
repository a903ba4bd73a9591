"""Builders for the settings that depend on which services are configured.

The embedded default (no `DATABASE_URL`, no `REDIS_URL`) keeps everything under the data
directory: a SQLite database in WAL mode, a SQLite cache (diskcache) and an SQLite channel layer,
all of which work across the processes `make up` starts. Setting the URLs switches to PostgreSQL
and Redis without any other change.
"""

import os
import secrets
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
SQLITE_BUSY_TIMEOUT_SECONDS = 20
# How long a request waits for a pooled PostgreSQL connection when all are in use.
POOL_TIMEOUT_SECONDS = 10
# The embedded cache's bound on disk. diskcache bounds bytes, not entries (the file cache before
# it kept at most 20,000): docs/decisions.md says how the two compare.
EMBEDDED_CACHE_SIZE_LIMIT = 256 * 2**20

SQLITE_ENGINE = "atom_site.backends.sqlite3"
POSTGRESQL_ENGINE = "atom_site.backends.postgresql"
SQLITE_INIT = (
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000};"
    "PRAGMA foreign_keys=ON;"
)


def sqlite_database(path: Path) -> dict[str, Any]:
    """SQLite tuned so that web, workers and watcher can share one file.

    IMMEDIATE transactions take the write lock at BEGIN, so a writer waits for the busy
    timeout instead of failing with "database is locked" when it upgrades a read lock.
    """
    return {
        "ENGINE": SQLITE_ENGINE,
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            "init_command": SQLITE_INIT,
        },
    }


def database_from_url(
    url: str, *, data_dir: Path, conn_max_age: int, pool_max_size: int = 0
) -> dict[str, Any]:
    """Parse `DATABASE_URL`; an empty value means the embedded SQLite database.

    PostgreSQL connections come from a psycopg pool of up to `pool_max_size` (0: none), unless
    `conn_max_age` asks for Django's persistent connections instead. Without a pool each
    request would open a connection.
    """
    if not url:
        return sqlite_database(data_dir / "atom.sqlite3")
    parts = _split_url("DATABASE_URL", url)
    if parts.scheme == "sqlite":
        # sqlite:////absolute/path or sqlite:///relative/path, as dj-database-url reads them.
        name = parts.path[1:]
        if not name:
            raise ImproperlyConfigured("DATABASE_URL: a sqlite URL needs a file path")
        return sqlite_database(Path(name).resolve())
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite:///)"
        )
    if not parts.hostname and "host=" not in parts.query:
        raise ImproperlyConfigured("DATABASE_URL: a postgres URL needs a host")
    if not parts.path.strip("/"):
        raise ImproperlyConfigured("DATABASE_URL: a postgres URL needs a database name")
    _check_port("DATABASE_URL", parts)
    try:
        config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL: {error}") from None
    config["ENGINE"] = POSTGRESQL_ENGINE
    if pool_max_size and not conn_max_age:
        from atom_site.pools import pooled_connection_check

        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": pool_max_size,
            "timeout": POOL_TIMEOUT_SECONDS,
            "check": pooled_connection_check,
        }
    return config


def redis_url_checked(url: str) -> str:
    """Return `REDIS_URL` unchanged when it is well formed."""
    parts = _split_url("REDIS_URL", url)
    if parts.scheme not in REDIS_SCHEMES:
        raise ImproperlyConfigured(
            f"REDIS_URL: unsupported scheme {parts.scheme!r} (use redis:// or rediss://)"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured("REDIS_URL: a redis URL needs a host")
    _check_port("REDIS_URL", parts)
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL: database {database!r} is not a number")
    return url


def caches_for(*, redis_url: str, data_dir: Path, key_prefix: str) -> dict[str, Any]:
    if redis_url:
        return {
            "default": {
                "BACKEND": "atom_site.cache.SharedRedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": key_prefix,
                # A stopped Redis refuses at once; a hung one must not hang a request.
                "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
                "FALLBACK": "database",
            },
            # Where the cache goes while Redis does not answer (atom_site/cache.py); its table
            # is made by `manage.py createcachetable` (`up` runs it).
            "database": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "atom_cache_fallback",
                "KEY_PREFIX": key_prefix,
                "OPTIONS": {"MAX_ENTRIES": 20_000},
            },
        }
    return {
        "default": {
            "BACKEND": "atom_site.cache.EmbeddedCache",
            "LOCATION": str(data_dir / "cache"),
            "KEY_PREFIX": key_prefix,
            # One SQLite file: a request's thread opens one connection, whatever keys it reads;
            # its writes (a rate-limit count, a page) are far from contending for it.
            "SHARDS": 1,
            "OPTIONS": {
                "size_limit": EMBEDDED_CACHE_SIZE_LIMIT,
                # Past the limit the oldest writes go first; reads never write.
                "eviction_policy": "least-recently-stored",
            },
        }
    }


def channel_layers_for(*, redis_url: str, key_prefix: str) -> dict[str, Any]:
    if redis_url:
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_url], "prefix": f"{key_prefix}asgi"},
            }
        }
    return {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels", "polling_interval": 0.02, "expiry": 60},
        }
    }


def certificate_file_default() -> str:
    """The certificate bundle installer programs are told to trust when ATOM_INSTALL_CA_FILE is
    empty: the caller's SSL_CERT_FILE, else the one OpenSSL and Python use, when it exists.

    They read no configuration file of the host's, and a host that trusts its own authority
    (an egress proxy's) says so in those files (/etc/pip.conf's `cert`, npm's global `cafile`).
    """
    named = os.environ.get("SSL_CERT_FILE", "")
    if named and Path(named).is_file():
        return named
    cafile = ssl.get_default_verify_paths().cafile
    return cafile if cafile and Path(cafile).is_file() else ""


def secret_key_load_or_create(path: Path) -> str:
    """Read the data dir's secret key, creating it once.

    Every process (the web server, each django-q2 worker, the watcher) must see the same key:
    django-q2 signs tasks with it, and a task signed with another key is dropped silently.
    The key is written to a private temporary file and linked into place, so two processes
    starting together agree on one key.
    """
    if path.exists():
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 32:
        raise ImproperlyConfigured(f"SECRET_KEY: the key in {path} is shorter than 32 characters")
    return key


def _split_url(name: str, url: str):
    if "://" not in url:
        raise ImproperlyConfigured(f"{name}: {url!r} is not a URL (expected scheme://…)")
    try:
        return urlsplit(url)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None


def _check_port(name: str, parts) -> None:
    try:
        parts.port  # noqa: B018 - urllib validates the port lazily
    except ValueError:
        raise ImproperlyConfigured(f"{name}: the port is not a number from 0 to 65535") from None
