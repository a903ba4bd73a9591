"""The shared cache: Redis shares one client (and its connection pool) per server across
threads, since threads come and go (a request's, a consumer's) and Django's own client opened
new connections for each; the embedded cache (diskcache) shares its SQLite files the same way,
hands a connection an ended thread left to the next new thread, keeps Django's cache contract,
and keeps SQLite's rules across a fork."""

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import diskcache
import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache

from atom_site.cache import (
    DISKCACHE_VERSION,
    ConnectionPoolCache,
    EmbeddedCache,
    cache_count,
    cache_count_sent,
    file_cache_leftovers_remove,
)
from atom_site.config import caches_for

redis_only = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis cache")


def _client_in_a_new_thread():
    found = {}

    def look() -> None:
        found["client"] = caches["default"]._cache.get_client()
        found["value"] = caches["default"].get("shared-cache-test")

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return found


@redis_only
def test_threads_share_one_client_and_see_each_others_writes():
    cache.set("shared-cache-test", {"written": "here"}, timeout=30)
    found = _client_in_a_new_thread()
    assert found["value"] == {"written": "here"}
    assert found["client"] is cache._cache.get_client()
    assert found["client"] is cache._cache.get_client(write=True)
    cache.delete("shared-cache-test")


def embedded_cache(data_dir: Path) -> EmbeddedCache:
    """The embedded default's cache, as `caches_for` configures it, under `data_dir`."""
    params = caches_for(redis_url="", data_dir=data_dir, key_prefix="t:")["default"]
    return EmbeddedCache(params["LOCATION"], params)


def test_the_embedded_cache_keeps_djangos_contract(tmp_path):
    embedded = embedded_cache(tmp_path)

    assert embedded.add("count", 1, timeout=60)
    assert not embedded.add("count", 5, timeout=60)
    assert embedded.incr("count") == 2
    with pytest.raises(ValueError, match="not found"):
        embedded.incr("never-added")
    embedded.set("page", {"rows": [1, 2]}, timeout=60)
    assert embedded.get_many(["page", "count", "absent"]) == {"page": {"rows": [1, 2]}, "count": 2}
    assert embedded.get("absent", "default") == "default"
    assert embedded.touch("page", timeout=120)
    assert embedded.delete("page")
    assert embedded.get("page") is None
    embedded.clear()
    assert embedded.get("count") is None


def test_an_embedded_cache_that_cannot_write_its_disk_misses_instead_of_failing(tmp_path, caplog):
    """A full or read-only disk: building the cache (Django's checks do, before any command)
    and every operation still work, as misses, and the outage is logged once."""
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache's directory cannot be made under a file")
    embedded = EmbeddedCache(str(blocker / "cache"), {"SHARDS": 1, "OPTIONS": {}})

    assert embedded.get("key", "default") == "default"
    assert not embedded.add("count", 1, timeout=60)
    embedded.set("page", {"rows": [1]}, timeout=60)
    assert embedded.get_many(["page"]) == {}
    with pytest.raises(ValueError, match="no such key"):
        embedded.incr("count")  # the rate limiter then counts the call as a window's first
    assert not embedded.delete("page")
    assert caplog.text.count("cannot be used") == 1


def test_an_embedded_counter_keeps_its_expiry_through_incr_and_is_gone_after_it(tmp_path):
    """What the rate limiter relies on: `incr` does not extend a window, and once the window
    has expired `incr` raises ValueError and `add` starts a new one."""
    embedded = embedded_cache(tmp_path)
    embedded.add("window", 1, timeout=1)
    assert embedded.incr("window") == 2
    time.sleep(1.2)
    assert embedded.get("window") is None
    with pytest.raises(ValueError, match="not found"):
        embedded.incr("window")
    assert embedded.add("window", 1, timeout=60)


def test_threads_share_one_embedded_cache_and_see_each_others_writes(tmp_path):
    embedded = embedded_cache(tmp_path)
    embedded.set("written", "here", timeout=30)
    found = {}

    def look() -> None:
        other = embedded_cache(tmp_path)  # as Django builds one in each request's thread
        found["cache"] = other._cache
        found["value"] = other.get("written")

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    assert found["value"] == "here"
    assert found["cache"] is embedded._cache


def _shard(embedded: EmbeddedCache) -> ConnectionPoolCache:
    (shard,) = embedded._cache._shards
    return shard


def _in_a_thread(action) -> dict:
    """Run `action` in a new thread, to its end; what it returned."""
    found = {}
    thread = threading.Thread(target=lambda: found.update(action()))
    thread.start()
    thread.join()
    return found


def test_a_new_thread_takes_the_connection_an_ended_thread_left(tmp_path):
    embedded = embedded_cache(tmp_path)
    embedded.set("generation", 7, timeout=60)
    shard = _shard(embedded)

    def read() -> dict:
        return {"value": embedded_cache(tmp_path).get("generation"), "connection": shard._con}

    first = _in_a_thread(read)
    opened = shard.connections_opened
    second = _in_a_thread(read)
    third = _in_a_thread(read)

    assert first["value"] == second["value"] == third["value"] == 7
    assert shard.connections_opened == opened  # none opened after the first thread's
    assert second["connection"] is first["connection"] is third["connection"]
    assert second["connection"] is not shard._con  # the test's thread, alive, keeps its own


def test_live_threads_never_share_a_connection(tmp_path):
    embedded = embedded_cache(tmp_path)
    embedded.add("count", 0, timeout=60)
    shard = _shard(embedded)
    _in_a_thread(lambda: {"value": embedded.get("count")})  # leaves one connection idle
    opened = shard.connections_opened
    all_counted = threading.Barrier(4)
    connections = []

    def count() -> None:
        for _ in range(50):
            embedded.incr("count")
        connections.append(shard._con)
        all_counted.wait(timeout=30)  # no thread ends before every one has its connection

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert embedded.get("count") == 200
    assert len({id(connection) for connection in connections + [shard._con]}) == 5
    assert shard.connections_opened == opened + 3  # the idle one was taken, three opened


def _child_takes_a_connection(embedded: EmbeddedCache, parents: list) -> dict:
    """Run in the forked child: count once, say whether it opened a connection of its own."""
    shard = _shard(embedded)
    opened = shard.connections_opened
    embedded.incr("count")
    own = shard._con
    return {
        "opened": shard.connections_opened - opened,
        "reused": any(own is connection for connection in parents),
    }


def _descriptors_opened_on(path: Path) -> list[str]:
    """The files of this process's open descriptors that are `path` or its WAL and index."""
    opened = []
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:  # the listing's own descriptor, closed since
            continue
        if target.startswith(str(path)):
            opened.append(target)
    return opened


def _locks_held_on(path: Path, pid: int) -> list[str]:
    """POSIX locks the kernel records for process `pid` on the file `path` (/proc/locks)."""
    inode = str(path.stat().st_ino)
    held = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        if fields[4] == str(pid) and fields[5].split(":")[-1] == inode:
            held.append(fields[3])
    return held


def _child_uses_the_cache(data_dir: Path, database: Path) -> dict:
    """Run in the forked child: count alongside the parent, write, say what it saw."""
    seen = {"inherited": _descriptors_opened_on(database)}
    embedded = embedded_cache(data_dir)
    for _ in range(200):
        embedded.incr("count")
    embedded.set("from-child", "child wrote this", timeout=60)
    seen["locks"] = _locks_held_on(database, os.getpid())
    seen["own"] = _descriptors_opened_on(database)
    return seen


def _in_a_fork(child_work: Callable[[], dict], meanwhile: Callable[[], None]) -> dict:
    """`child_work` run in a forked child while the parent runs `meanwhile`: what it returned,
    once the child has exited cleanly."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, json.dumps(child_work()).encode())
            os._exit(0)
        except BaseException:  # noqa: BLE001 - the exit code says it failed
            os._exit(1)
    os.close(write)
    meanwhile()
    _, status = os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(said)


# A forked django-q2 worker is such a child: the fork is the point.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection_and_both_keep_counting(tmp_path):
    embedded = embedded_cache(tmp_path)
    embedded.add("count", 0, timeout=60)
    embedded.set("from-parent", "parent wrote this", timeout=60)
    database = Path(embedded.directory) / "000" / "cache.db"
    assert _descriptors_opened_on(database)  # the parent's connection, open at the fork

    def count() -> None:
        for _ in range(200):
            embedded.incr("count")

    seen = _in_a_fork(lambda: _child_uses_the_cache(tmp_path, database), meanwhile=count)

    assert seen["inherited"] == []  # closed in the parent before the fork: nothing carried over
    assert seen["own"]  # the child opened its own connection...
    assert "READ" in seen["locks"]  # ...which holds its own lock on the file
    assert embedded.get("count") == 400  # every increment of both processes counted
    assert embedded.get("from-child") == "child wrote this"
    assert embedded.get("from-parent") == "parent wrote this"
    embedded.set("after", "the parent still writes", timeout=60)
    assert embedded.get("after") == "the parent still writes"


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_never_takes_a_connection_of_its_parent(tmp_path):
    """In the child the parent's other threads are gone, so their connections look like those
    of ended threads: the child must open its own all the same."""
    embedded = embedded_cache(tmp_path)
    embedded.add("count", 0, timeout=60)
    shard = _shard(embedded)
    holding, forked = threading.Event(), threading.Event()
    live = {}

    def hold() -> None:
        embedded.incr("count")
        live["connection"] = shard._con
        holding.set()
        forked.wait(timeout=30)
        embedded.incr("count")  # its connection still serves it after the fork

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(timeout=30)
    ended = _in_a_thread(lambda: {"connection": (embedded.incr("count"), shard._con)[1]})
    parents = [shard._con, ended["connection"], live["connection"]]

    def let_the_holder_go_on() -> None:
        forked.set()
        holder.join()

    seen = _in_a_fork(
        lambda: _child_takes_a_connection(embedded, parents), meanwhile=let_the_holder_go_on
    )

    assert seen == {"opened": 1, "reused": False}
    for closed_before_the_fork in parents[:2]:  # the forking thread's, the ended thread's
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            closed_before_the_fork.execute("SELECT 1")
    assert embedded.get("count") == 4  # the parent's three and the child's one


def test_diskcache_is_the_release_the_connection_pool_was_written_for():
    """`ConnectionPoolCache` overrides diskcache's private `Cache._con` and `close`: before
    another release is used, read its `Cache` and check the pool against it."""
    assert diskcache.__version__ == DISKCACHE_VERSION


def test_the_former_file_caches_entries_are_removed_and_diskcaches_kept(tmp_path):
    former = FileBasedCache(str(tmp_path / "cache"), {})
    for number in range(3):
        former.set(f"page-{number}", "x" * 100, timeout=60)
    embedded = embedded_cache(tmp_path)
    embedded.set("kept", "yes", timeout=60)

    assert file_cache_leftovers_remove(tmp_path / "cache") == 3
    assert not list((tmp_path / "cache").glob("*.djcache"))
    assert embedded.get("kept") == "yes"
    assert file_cache_leftovers_remove(tmp_path / "cache") == 0
    assert file_cache_leftovers_remove(tmp_path / "missing") == 0


def test_the_embedded_cache_is_one_sqlite_file_under_the_data_dir(tmp_path):
    embedded = embedded_cache(tmp_path)
    embedded.set("written", 1, timeout=60)

    database = tmp_path / "cache" / "000" / "cache.db"
    with closing(sqlite3.connect(database)) as reader:
        (journal,) = reader.execute("PRAGMA journal_mode").fetchone()
        (size_limit,) = reader.execute(
            "SELECT value FROM Settings WHERE key = 'size_limit'"
        ).fetchone()
    assert journal == "wal"
    assert size_limit == 256 * 2**20


def test_a_count_adds_one_and_starts_again_once_its_time_to_live_is_over():
    counts = [cache_count("counted", timeout=1) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert cache.get("counted") == 3  # a plain integer, as any cache read gives it back

    time.sleep(1.5)

    assert cache_count("counted", timeout=1) == 1


def served(stats: dict, command: str) -> int:
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


@redis_only
def test_a_count_on_redis_is_one_round_trip_and_keeps_its_first_time_to_live():
    client = caches["default"]._cache.get_client(write=True)
    key = caches["default"].make_and_validate_key("counted")
    calls = client.info("commandstats")

    cache_count("counted", timeout=30)
    cache_count("counted", timeout=300)

    after = client.info("commandstats")
    assert served(after, "incr") - served(calls, "incr") == 2
    assert served(after, "exists") == served(calls, "exists")  # as Django's incr asks first
    assert 0 < client.ttl(key) <= 30


def test_counts_sent_ahead_are_read_in_any_order_each_with_its_own_value():
    first = cache_count_sent("ahead", timeout=30)
    second = cache_count_sent("ahead", timeout=30)

    assert (second.result(), first.result(), second.result()) == (2, 1, 2)
    assert cache_count("ahead", timeout=30) == 3


@redis_only
def test_a_count_sent_ahead_gives_its_connection_back_once_read():
    pool = caches["default"]._cache.get_client(write=True).connection_pool
    cache_count_sent("ahead", timeout=30).result()
    made = pool._created_connections

    counts = [cache_count_sent("ahead", timeout=30).result() for _ in range(50)]

    assert counts == list(range(2, 52))
    # Kept out of the pool, each count would have needed a connection of its own (another
    # thread, such as a generation's listener, may take one meanwhile).
    assert pool._created_connections - made <= 2
