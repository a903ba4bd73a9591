"""Redis stopped under a running site: a private redis-server the test starts and stops. The
cache goes to the database with one logged warning, the health check names Redis, requests keep
answering, what was written meanwhile is read back, and Redis is used again once it answers."""

import logging
import shutil
import subprocess
import time

import pytest
import redis
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connection

from atom_site import cache as atom_cache
from atom_site.config import caches_for
from atom_site.health import check_cache
from atom_site.rate_limits import rate_limit
from tests.faults import needs

pytestmark = pytest.mark.django_db(transaction=True)


def redis_start(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("the private redis-server did not start")


@pytest.fixture
def private_redis(free_port, settings, monkeypatch):
    needs(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = redis_start(free_port)
    settings.CACHES = caches_for(
        redis_url=f"redis://127.0.0.1:{free_port}/0",
        data_dir=settings.ATOM_DATA_DIR,
        key_prefix=settings.ATOM_KEY_PREFIX,
    )
    call_command("createcachetable")  # as `up` does
    monkeypatch.setattr(atom_cache, "REDIS_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(atom_cache, "outage", atom_cache.RedisOutage())
    state = {"server": server, "port": free_port}
    yield state
    state["server"].kill()
    state["server"].wait()


def redis_stop(state) -> None:
    state["server"].terminate()
    state["server"].wait(timeout=20)


def test_the_cache_degrades_to_the_database_while_redis_is_down(private_redis, client, caplog, rf):
    direct = redis.Redis(port=private_redis["port"])
    cache.set("before", "kept in redis", timeout=300)
    assert direct.dbsize() == 1
    assert client.get("/api/marketplace/skills?q=text").status_code == 200

    redis_stop(private_redis)
    with caplog.at_level(logging.WARNING, logger="atom_site.cache"):
        cache.set("during", "kept in the database", timeout=300)
        answers = [client.get("/api/marketplace/skills?q=text").status_code for _ in range(3)]
        request = rf.post("/api/skills/x/run", REMOTE_ADDR="10.0.0.9")
        for _ in range(3):
            rate_limit(request, "runs")  # counts in the database meanwhile
        health = client.get("/api/health").json()

    assert answers == [200, 200, 200]
    assert cache.get("during") == "kept in the database"
    assert caches["database"].get("during") == "kept in the database"
    assert not health["checks"]["cache"]["ok"]
    assert "cache" in health["failed"]
    assert "does not answer" in health["checks"]["cache"]["detail"]
    assert "falls back to the database" in health["checks"]["cache"]["detail"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "atom_site.cache"]
    assert len(warnings) == 1  # one per outage, not one per operation
    assert "does not answer" in warnings[0]
    assert "the cache uses the database" in warnings[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM atom_cache_fallback")
        kept = [row[0] for row in cursor.fetchall()]
    [counted] = [key for key in kept if "rate-limit:runs:" in key]
    assert caches["database"].get(counted.split(":", 2)[2]) == 3

    private_redis["server"] = redis_start(private_redis["port"])  # back, empty
    time.sleep(0.3)  # past the retry interval
    with caplog.at_level(logging.WARNING, logger="atom_site.cache"):
        cache.set("after", "in redis again", timeout=300)

    assert redis.Redis(port=private_redis["port"]).dbsize() == 1
    assert "answers again" in caplog.records[-1].getMessage()
    assert check_cache().endswith("answers")
