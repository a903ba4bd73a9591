"""Django's Redis cache with one Redis client per server for the whole process, and the
database behind it when Redis does not answer.

Django's `RedisCacheClient` builds a new `redis.Redis` for every operation (copying about 340
response callbacks), and its connection pools belong to the cache object, which Django
keeps per thread: with Django's ASGI handler, a thread per request, every request also opened
new Redis connections (Atom's handler keeps a pool of threads, but threads still come and go).
redis-py clients are thread-safe (a connection is taken from the pool per command) and their
pools reset themselves in a forked child.

With a `FALLBACK` alias (a database cache, see `atom_site.config.caches_for`), an operation that
finds Redis down goes to that cache instead, with one warning per outage; Redis is tried again
every `REDIS_RETRY_SECONDS`, and its return is logged too. Entries written during an outage
live in the database until they expire; Redis keeps what it held before.

Without Redis, the embedded default is `EmbeddedCache`: diskcache's Django cache (SQLite under
the data dir, shared by every process of the host), with one diskcache object per directory for
the whole process, SQLite connections that outlive their threads (`ConnectionPoolCache`) and
SQLite's rules kept across `fork` (see `embedded_cache_fork_prepare`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import redis.exceptions
from diskcache import Cache, DjangoCache, FanoutCache
from diskcache.core import DBNAME
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
REDIS_RETRY_SECONDS = 5.0
OPERATIONS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
)


class SharedRedisCacheClient(RedisCacheClient):
    _clients: ClassVar[dict[tuple, Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def get_client(self, key: str | None = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        identity = (self._servers[index], tuple(sorted(map(repr, self._pool_options.items()))))
        client = self._clients.get(identity)
        if client is None:
            with self._lock:
                client = self._clients.get(identity)
                if client is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    client = self._client(connection_pool=pool)
                    self._clients[identity] = client
        return client


class RedisOutage:
    """Whether this process is treating Redis as down (one per process: Django keeps a cache
    object per thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retry_at = 0.0
        self.since: float | None = None

    def is_skipping(self) -> bool:
        return time.monotonic() < self.retry_at

    def begin(self, *, server: str, error: Exception) -> None:
        with self._lock:
            first = self.since is None
            if first:
                self.since = time.monotonic()
            self.retry_at = time.monotonic() + REDIS_RETRY_SECONDS
        if first:
            logger.warning(
                "Redis at %s does not answer (%s: %s); the cache uses the database until it "
                "does (tried again every %g s)",
                server,
                type(error).__name__,
                error,
                REDIS_RETRY_SECONDS,
            )

    def end(self, *, server: str) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            down_for, self.since, self.retry_at = time.monotonic() - self.since, None, 0.0
        logger.warning(
            "Redis at %s answers again after %.1f s; the cache uses it", server, down_for
        )


outage = RedisOutage()


def _degrading(name: str):
    through_redis = getattr(RedisCache, name)

    def operation(self: SharedRedisCache, *args, **kwargs):
        if self.fallback_alias is None:
            return through_redis(self, *args, **kwargs)
        if outage.is_skipping():
            return getattr(caches[self.fallback_alias], name)(*args, **kwargs)
        try:
            result = through_redis(self, *args, **kwargs)
        except REDIS_DOWN as error:
            outage.begin(server=self.server_shown, error=error)
            return getattr(caches[self.fallback_alias], name)(*args, **kwargs)
        outage.end(server=self.server_shown)
        return result

    operation.__name__ = name
    return operation


class SharedRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient
        self.fallback_alias: str | None = params.get("FALLBACK")
        self.server_shown = self._servers[0].split("@")[-1]  # no password in a log line

    def redis_ping(self) -> str:
        """Ask Redis itself, past the fallback: for the health check."""
        try:
            self._cache.get_client(write=True).ping()
        except REDIS_DOWN as error:
            fallback = (
                "the cache falls back to the database" if self.fallback_alias else "no fallback"
            )
            raise RuntimeError(
                f"Redis at {self.server_shown} does not answer ({type(error).__name__}: {error}); "
                f"{fallback}"
            ) from None
        return f"Redis at {self.server_shown} answers"

    def count_sent(self, key: str, *, timeout: int | None) -> CountInFlight:
        """`cache_count_sent` in one round trip: `INCR`, and `EXPIRE … NX` for a new counter,
        sent now and their answer read by `.result()`."""
        if self.fallback_alias is not None and outage.is_skipping():
            return self._counted_by_fallback(key, timeout=timeout)
        made = self.make_and_validate_key(key)
        commands: list[tuple] = [("INCR", made)]
        if timeout is not None:
            commands.append(("EXPIRE", made, timeout, "NX"))
        pool = self._cache.get_client(write=True).connection_pool
        connection = None
        try:
            connection = pool.get_connection()
            connection.send_packed_command(connection.pack_commands(commands))
        except REDIS_DOWN as error:
            if connection is not None:
                _connection_dropped(pool, connection)
            return self._count_failed(key, timeout=timeout, error=error)

        def read() -> int:
            try:
                answers = [connection.read_response() for _ in commands]
            except REDIS_DOWN as error:
                _connection_dropped(pool, connection)
                return self._count_failed(key, timeout=timeout, error=error).result()
            except BaseException:  # an answer left unread would be the next command's
                _connection_dropped(pool, connection)
                raise
            pool.release(connection)
            outage.end(server=self.server_shown)
            return int(answers[0])

        return CountInFlight(read)

    def _count_failed(self, key: str, *, timeout: int | None, error: Exception) -> CountInFlight:
        if self.fallback_alias is None:
            raise error
        outage.begin(server=self.server_shown, error=error)
        return self._counted_by_fallback(key, timeout=timeout)

    def _counted_by_fallback(self, key: str, *, timeout: int | None) -> CountInFlight:
        return CountInFlight.counted(
            _counted_by_add_and_incr(caches[self.fallback_alias], key, timeout=timeout)
        )


def _connection_dropped(pool: Any, connection: Any) -> None:
    connection.disconnect()
    pool.release(connection)


class CountInFlight:
    """A count sent and not read yet: `.result()` reads it (once). Until then its connection
    is out of Redis's pool, so whoever sends one reads it."""

    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read
        self._value: int | None = None

    @classmethod
    def counted(cls, value: int) -> CountInFlight:
        """A count already made (no Redis, or Redis down)."""
        return cls(lambda: value)

    def result(self) -> int:
        if self._value is None:
            self._value = self._read()
        return self._value


for _name in OPERATIONS:
    setattr(SharedRedisCache, _name, _degrading(_name))


def cache_count_sent(key: str, *, timeout: int | None) -> CountInFlight:
    """`cache_count`, its value read later by `.result()`: with Redis the count travels while
    the caller works; elsewhere it is counted at once."""
    cache = caches["default"]
    if isinstance(cache, SharedRedisCache):
        return cache.count_sent(key, timeout=timeout)
    return CountInFlight.counted(_counted_by_add_and_incr(cache, key, timeout=timeout))


def cache_count(key: str, *, timeout: int | None) -> int:
    """Add one to the counter `key` of the default cache, made with `timeout` seconds to live
    (None: for good) if new, and return its value; atomic, and so counted together by every
    process."""
    return cache_count_sent(key, timeout=timeout).result()


def _counted_by_add_and_incr(cache: BaseCache, key: str, *, timeout: int | None) -> int:
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls: a new counter
        cache.add(key, 1, timeout=timeout)
        return 1


# The diskcache release `ConnectionPoolCache` was written against: it overrides private parts
# of diskcache's `Cache`, and a test fails when the installed release is another.
DISKCACHE_VERSION = "5.6.3"


class ConnectionPoolCache(Cache):
    """diskcache's `Cache` (one shard) whose SQLite connections outlive their threads.

    diskcache keeps a connection per thread and drops it with the thread; a new thread (one per
    request under Django's ASGI handler; websocket consumers' and writers' threads) would then
    open a connection (and set its pragmas) on its first cache operation. Here a thread
    without a connection takes one whose thread has ended, which that thread can never use
    again, and opens one only when there is none. Two live threads never share one
    (connections are opened with `check_same_thread=False` only so that they can change
    threads), and a forked child never takes its parent's: the pool is the process's, checked
    by pid. `connections_opened` counts what this process opened.
    A thread not started by `threading` (whose `is_alive()` stays true) keeps its connection.

    This overrides diskcache's private `_con` (the connection every statement runs on) and
    `close`, and opens connections as `_con` does: the same arguments, then the per-connection
    pragmas from the Settings table (`reset(..., update=False)`). See `DISKCACHE_VERSION`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._held = threading.local()
        self._owners: dict[threading.Thread, sqlite3.Connection] = {}
        self._owners_lock = threading.Lock()
        self._owners_pid = os.getpid()
        self.connections_opened = 0
        super().__init__(*args, **kwargs)

    @property
    def _con(self) -> sqlite3.Connection:
        held = self._held
        if getattr(held, "pid", None) == os.getpid():
            return held.con
        return self._con_take()

    def _con_take(self) -> sqlite3.Connection:
        with self._owners_lock:
            if self._owners_pid != os.getpid():  # forked, and the child reset did not run
                self.fork_child()
            con = self._con_of_ended_thread()
            if con is None:
                con = sqlite3.connect(
                    os.path.join(self._directory, DBNAME),
                    timeout=self._timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self.connections_opened += 1
                opened = True
            else:
                opened = False
            self._owners[threading.current_thread()] = con
        self._held.con, self._held.pid = con, self._owners_pid
        if opened:
            self._pragmas_set()
        return con

    def _con_of_ended_thread(self) -> sqlite3.Connection | None:
        ended = next((owner for owner in self._owners if not owner.is_alive()), None)
        if ended is None:
            return None
        con = self._owners.pop(ended)
        if con.in_transaction:  # its thread died inside one
            con.rollback()
        return con

    def _pragmas_set(self) -> None:
        try:
            settings = self._sql("SELECT key, value FROM Settings").fetchall()
        except sqlite3.OperationalError:  # a new file: `__init__` sets them
            return
        for key, value in settings:
            if key.startswith("sqlite_"):
                self.reset(key, value, update=False)

    def close(self) -> None:
        """Close this thread's connection."""
        with self._owners_lock:
            con = self._owners.pop(threading.current_thread(), None)
        self._held.__dict__.clear()
        if con is not None:
            con.close()

    def fork_prepare(self) -> None:
        """Close the connections a child would inherit and the parent can close: those of
        ended threads and the calling (forking) thread's."""
        self.close()
        with self._owners_lock:
            while (con := self._con_of_ended_thread()) is not None:
                con.close()

    def fork_child(self) -> None:
        """In a forked child: the parent's connections are not this process's (dropped, they
        are finalised as diskcache's would be), and no parent thread holds the lock."""
        self._owners = {}
        self._owners_lock = threading.Lock()
        self._owners_pid = os.getpid()
        self._txn_id = None  # diskcache's record of the thread inside a transaction


class EmbeddedCache(DjangoCache):
    """diskcache's Django cache, with one `FanoutCache` per directory for the whole process.

    Django builds a cache object per thread, and threads come and go; `DjangoCache` opens
    every shard's SQLite file and rewrites its settings each time it is built. Shared, a new
    thread only needs a connection, which it takes from the shard's pool
    (`ConnectionPoolCache`). For the same reason Django's `close()` after each request keeps
    the connection: a thread that serves the next request too (a web thread, a worker's, the
    test client's) would otherwise put it back and take it again every time.
    """

    _shared: ClassVar[dict[tuple, FanoutCache]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, directory: str, params: dict[str, Any]) -> None:
        BaseCache.__init__(self, params)  # not DjangoCache's: it would build a FanoutCache
        self._directory, self._params = directory, params
        self._fanout: FanoutCache | None = None

    @property
    def _cache(self) -> FanoutCache:
        """Opened at the first operation, not when Django builds the cache (its system checks
        do, before every command): a cache whose disk cannot be written then only misses."""
        if self._fanout is None:
            self._fanout = self._fanout_shared(self._directory, self._params)
        return self._fanout

    @classmethod
    def _fanout_shared(cls, directory: str, params: dict[str, Any]) -> FanoutCache:
        shards = params.get("SHARDS", 8)
        timeout = params.get("DATABASE_TIMEOUT", 0.010)
        options = params.get("OPTIONS", {})
        identity = (directory, shards, timeout, tuple(sorted(options.items())))
        fanout = cls._shared.get(identity)
        if fanout is None:
            with cls._lock:
                fanout = cls._shared.get(identity)
                if fanout is None:
                    fanout = cls._fanout_pooled(directory, shards, timeout, options)
                    cls._shared[identity] = fanout
        return fanout

    @staticmethod
    def _fanout_pooled(
        directory: str, shards: int, timeout: float, options: dict[str, Any]
    ) -> FanoutCache:
        """A `FanoutCache` whose shards are `ConnectionPoolCache`s. FanoutCache builds plain
        `Cache`s, which write the settings into each file; each is then reopened pooled, its
        settings read back from its file."""
        fanout = FanoutCache(directory, shards, timeout, **options)
        plain = fanout._shards
        fanout._shards = tuple(
            ConnectionPoolCache(shard.directory, timeout=timeout, disk=type(shard.disk))
            for shard in plain
        )
        for shard in plain:
            shard.close()
        return fanout

    def close(self, **kwargs: Any) -> None:
        """Keep this thread's connections (see the class's docstring)."""


# SQLite's errors when its file cannot be written or read (a full or read-only disk, an I/O
# error, a damaged file), and the file system's own.
EMBEDDED_DOWN = (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)


def _missed(name: str, args: tuple, kwargs: dict) -> Any:
    """What an operation answers when the embedded cache cannot be used: a miss, or nothing
    stored (Django's own answers for those cases)."""
    if name == "get":
        return args[1] if len(args) > 1 else kwargs.get("default")
    if name in ("incr", "decr"):
        raise ValueError("no such key: the embedded cache is unavailable")
    if name in ("add", "touch", "delete", "has_key"):
        return False
    return None


class EmbeddedOutage:
    """Whether the embedded cache is failing, so that an outage is logged once, not per call."""

    def __init__(self) -> None:
        self.since: float | None = None

    def begin(self, *, directory: str, error: Exception) -> None:
        if self.since is None:
            self.since = time.monotonic()
            logger.warning(
                "the cache at %s cannot be used (%s: %s); every operation misses until it can",
                directory,
                type(error).__name__,
                error,
            )

    def end(self, *, directory: str) -> None:
        if self.since is not None:
            down_for, self.since = time.monotonic() - self.since, None
            logger.warning("the cache at %s works again after %.1f s", directory, down_for)


embedded_outage = EmbeddedOutage()


def _missing_when_down(name: str):
    through = getattr(DjangoCache, name)

    def operation(self: EmbeddedCache, *args, **kwargs):
        try:
            result = through(self, *args, **kwargs)
        except EMBEDDED_DOWN as error:
            embedded_outage.begin(directory=self._directory, error=error)
            return _missed(name, args, kwargs)
        embedded_outage.end(directory=self._directory)
        return result

    operation.__name__ = name
    return operation


# DjangoCache's own operations; Django's `get_many`, `set_many`, `delete_many` go through them.
for _name in ("add", "get", "set", "touch", "delete", "incr", "decr", "has_key", "clear"):
    setattr(EmbeddedCache, _name, _missing_when_down(_name))


def embedded_cache_fork_prepare() -> None:
    """Before a fork, in the parent: close the embedded cache's connections the parent can.

    SQLite's rule is that a child must neither use nor close a connection it inherited, and one
    left open in the child, even unused, also breaks the child's own: SQLite there believes the
    process already holds the file's locks, so its new connections run without taking them.
    The forking thread's connections and the idle ones (of ended threads) are closed before
    the fork, so the child inherits none of them (the parent reopens on its next use).
    Connections of the parent's other live threads cannot be closed from here; django-q2's
    sentinel, which forks the workers, uses the cache from its main thread only.
    """
    for fanout in list(EmbeddedCache._shared.values()):
        for shard in fanout._shards:
            shard.fork_prepare()


def embedded_cache_fork_child() -> None:
    """In a forked child: no thread of the parent runs here, so none holds the registry's lock,
    and none of the parent's connections may be used (`ConnectionPoolCache.fork_child`)."""
    EmbeddedCache._lock = threading.Lock()
    for fanout in EmbeddedCache._shared.values():
        for shard in fanout._shards:
            shard.fork_child()


os.register_at_fork(before=embedded_cache_fork_prepare, after_in_child=embedded_cache_fork_child)


def file_cache_leftovers_remove(directory: Path) -> int:
    """Delete what Django's file cache, the embedded cache before diskcache, left in
    `directory` (its `*.djcache` entries): nothing reads them any more. Returns how many."""
    removed = 0
    for entry in directory.glob("*.djcache"):
        entry.unlink(missing_ok=True)
        removed += 1
    return removed
