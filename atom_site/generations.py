"""Counters that tell every process "something changed", read without a round trip.

A process keeps copies of rows it reads on every request (API keys and their owners) and must
drop them as soon as any process changes those rows. Asking the shared cache for a counter on
every request costs a round trip to Redis, which on a quiet host costs more than all the rest of
checking a key. So with Redis, each process runs a thread subscribed to the counter's channel,
every change publishes on it, and while that thread is subscribed the process's own tally of
what it heard is the generation: reading it touches nothing outside the process.

While the thread is not subscribed (starting, Redis down, after a fork), a read asks the shared
cache for its counter, as before; the two kinds of value never compare equal, so copies made
under one are not trusted under the other. A change reaches another process's tally when Redis
delivers the message (well under a millisecond on one host), and this process's own at once.
Pub/sub delivers at most once: a message lost to a dropped connection is made good by the
thread noticing the drop, which stops the process trusting its tally until it subscribes again.

Without Redis (the embedded default) the counter lives in the host's SQLite cache, whose reads
are local; every read goes there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from django.core.cache import BaseCache, caches

from atom_site import cache as shared_cache

logger = logging.getLogger(__name__)


class _Listener:
    """A daemon thread subscribed to one channel of one Redis server, counting what it hears.

    It lives until its connection fails; the next read after `REDIS_RETRY_SECONDS` starts
    another, which counts on from its tally so that no value is ever seen twice (a server no
    longer used is not retried)."""

    def __init__(self, client: Any, channel: str, *, heard: int = 0) -> None:
        self.client = client
        self.channel = channel
        self.heard = heard
        # What this process publishes: its own bump advanced the tally already, and hearing it
        # again would drop the copies read since for nothing (or, in a test, at random).
        self.token = f"{os.getpid()}:{id(self)}".encode()
        self.is_live = False
        self.failed_at: float | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._listen, name=f"generation listener {channel}", daemon=True
        )
        self.thread.start()

    def advance(self) -> None:
        with self._lock:
            self.heard += 1

    def may_restart(self) -> bool:
        return (
            not self.thread.is_alive()
            and self.failed_at is not None
            and time.monotonic() - self.failed_at >= shared_cache.REDIS_RETRY_SECONDS
        )

    def _listen(self) -> None:
        pubsub = self.client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            for message in pubsub.listen():
                if message["type"] == "message" and message["data"] == self.token:
                    continue
                # A (re)subscription counts too: anything published before it was not heard.
                self.advance()
                if message["type"] == "subscribe":
                    self.is_live = True
        except Exception as error:  # whatever ends the subscription, reads go to the cache
            logger.info("generations: %s is not followed (%s)", self.channel, error)
        finally:
            self.is_live = False
            self.failed_at = time.monotonic()
            pubsub.close()


_listeners: dict[tuple[str, str], _Listener] = {}
_listeners_lock = threading.Lock()


def _listeners_forget() -> None:
    # A forked child has none of its parent's threads: it starts its own listeners.
    global _listeners_lock
    _listeners.clear()
    _listeners_lock = threading.Lock()


os.register_at_fork(after_in_child=_listeners_forget)


class SharedGeneration:
    """A named counter shared by every process: `bump()` after a change commits; compare
    `current()` with the value a copy was made under to know whether it may still be used."""

    def __init__(self, name: str) -> None:
        self.name = name

    def current(self) -> Hashable:
        """This process's tally while it follows the channel, else the shared counter's value.
        Raises what the shared cache raises when it cannot be read."""
        cache = caches["default"]
        listener = self._listener(cache)
        if listener is not None and listener.is_live:
            return ("heard", listener.heard)
        return ("read", int(cache.get(self.name, 0)))

    def bump(self) -> None:
        shared_cache.cache_count(self.name, timeout=None)  # for processes not following
        listener = self._listener(caches["default"])
        if listener is not None:
            listener.advance()  # this process stops trusting its copies now, not when it hears
            try:
                listener.client.publish(listener.channel, listener.token)
            except Exception:  # Redis is down: every listener has lost it and reads the cache
                logger.info("generations: %s bumped but not published", self.name)

    def _listener(self, cache: BaseCache) -> _Listener | None:
        if not isinstance(cache, shared_cache.SharedRedisCache):
            return None
        channel = f"{cache.make_and_validate_key(self.name)}:changed"
        identity = (cache._servers[0], channel)
        listener = _listeners.get(identity)
        if listener is not None and not listener.may_restart():
            return listener
        with _listeners_lock:
            listener = _listeners.get(identity)
            if listener is None or listener.may_restart():
                heard = 0 if listener is None else listener.heard + 1
                client = cache._cache.get_client(write=True)
                listener = _listeners[identity] = _Listener(client, channel, heard=heard)
        return listener


class ProcessCopies[T]:
    """This process's copies of rows it read on hot paths, by key: each is used for at most
    `max_age()` seconds (0: never kept) and, with a `generation`, only while it is the one the
    copy was read under, so a change any process bumps it for is seen at once. Found rows
    only: a key that finds nothing is read again every time. A copy is shared by the
    process's threads: whoever gets one reads it and never changes it."""

    CAPACITY = 1024

    def __init__(
        self, generation: SharedGeneration | None, *, max_age: Callable[[], float]
    ) -> None:
        self.generation = generation
        self.max_age = max_age
        self._lock = threading.Lock()
        self._copies: dict[Hashable, tuple[T, Hashable, float]] = {}
        _all_copies.append(self)

    def get_or_read(self, key: Hashable, read: Callable[[], T | None]) -> T | None:
        """The copy of `key`, or what `read()` returns (kept when found)."""
        if self.max_age() <= 0:
            return read()
        try:
            generation = self._generation()
        except Exception:  # the shared cache is down: the database still answers
            logger.warning(
                "%s: the shared cache did not answer; reading the row",
                self.generation.name if self.generation else "copies",
                exc_info=True,
            )
            return read()
        copy = self._trusted(key, generation)
        if copy is None:
            # Read after the generation: a change committed meanwhile bumps it past this copy.
            copy = read()
            self._keep(key, copy, generation)
        return copy

    def peek(self, key: Hashable) -> T | None:
        """The copy of `key` while it may be used, without reading anything (generation-less
        copies only: the caller confirms what it uses)."""
        return self._trusted(key, None) if self.max_age() > 0 else None

    def keep(self, key: Hashable, copy: T | None) -> None:
        """Keep `copy` of `key` as read now (generation-less copies), or drop the key's."""
        self._keep(key, copy, None)

    def forget(self) -> None:
        with self._lock:
            self._copies.clear()

    def _generation(self) -> Hashable:
        return self.generation.current() if self.generation is not None else None

    def _trusted(self, key: Hashable, generation: Hashable) -> T | None:
        found = self._copies.get(key)
        if found is None:
            return None
        copy, read_under, read_at = found
        if read_under != generation or time.monotonic() - read_at > self.max_age():
            return None
        return copy

    def _keep(self, key: Hashable, copy: T | None, generation: Hashable) -> None:
        with self._lock:
            if copy is None:
                self._copies.pop(key, None)
                return
            if len(self._copies) >= self.CAPACITY:
                self._copies.clear()
            self._copies[key] = (copy, generation, time.monotonic())


_all_copies: list[ProcessCopies] = []


def process_copies_forget() -> None:
    """Drop every copy this process keeps (a test's rows are gone with its database)."""
    for copies in _all_copies:
        copies.forget()
