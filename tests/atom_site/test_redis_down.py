"""Redis stopped under a running site: a private redis-server the test starts and stops. The
cache goes to the database with one logged warning, the health check names Redis, requests keep
answering, what was written meanwhile is read back, and Redis is used again once it answers."""

import logging
import time

import pytest
import redis
from django.core.cache import cache, caches
from django.db import connection

from atom_site.health import check_cache
from atom_site.rate_limits import rate_limit
from tests.atom_site.conftest import redis_start, redis_stop

pytestmark = pytest.mark.django_db(transaction=True)


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
