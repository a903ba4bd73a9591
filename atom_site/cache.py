"""Django's Redis cache with one Redis client per server for the whole process.

Django's `RedisCacheClient` builds a new `redis.Redis` for every operation (copying about 340
response callbacks), and its connection pools belong to the cache object, which Django
keeps per thread. Under daphne every request runs in a new thread, so every request also opened
new Redis connections. redis-py clients are thread-safe (a connection is taken from the pool per
command) and their pools reset themselves in a forked child.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


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


class SharedRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient
