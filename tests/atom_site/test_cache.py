"""The Redis cache shares one client (and its connection pool) per server across threads:
under daphne each request is a new thread, and Django's own client opened new connections
for each."""

import threading

import pytest
from django.conf import settings
from django.core.cache import cache, caches

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis cache")


def _client_in_a_new_thread():
    found = {}

    def look() -> None:
        found["client"] = caches["default"]._cache.get_client()
        found["value"] = caches["default"].get("shared-cache-test")

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return found


def test_threads_share_one_client_and_see_each_others_writes():
    cache.set("shared-cache-test", {"written": "here"}, timeout=30)
    found = _client_in_a_new_thread()
    assert found["value"] == {"written": "here"}
    assert found["client"] is cache._cache.get_client()
    assert found["client"] is cache._cache.get_client(write=True)
    cache.delete("shared-cache-test")
