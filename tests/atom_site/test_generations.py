"""Shared generations (atom_site/generations.py): a change made by any process stops every
process trusting its copies, and while a process follows Redis's channel it reads the
generation without asking Redis."""

import subprocess
import time

import pytest
import redis
from django.core.cache import caches

from atom_site import cache as atom_cache
from atom_site.generations import SharedGeneration
from atom_site.keys import token_parse
from tests.atom_site.conftest import redis_start, redis_stop

pytestmark = pytest.mark.django_db(transaction=True)


def eventually(condition, *, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def gets_served(port: int) -> int:
    stats = redis.Redis(port=port).info("commandstats")
    return stats.get("cmdstat_get", {}).get("calls", 0)


def test_a_key_revoked_by_another_process_is_refused_by_one_that_keeps_it(
    client, token_make, skill_publish, process_env, manage_py
):
    skill_publish()
    token = token_make("read")
    signed = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/skills/shout", **signed).status_code == 200  # read, and kept

    revoked = subprocess.run(
        [*manage_py, "keys", "revoke", token_parse(token).public_id],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert revoked.returncode == 0, revoked.stderr
    assert eventually(lambda: client.get("/api/skills/shout", **signed).status_code == 401)


def test_while_following_redis_a_process_reads_the_generation_without_asking_it(private_redis):
    generation = SharedGeneration("test:generation")
    assert eventually(lambda: generation.current()[0] == "heard")
    before, served = generation.current(), gets_served(private_redis["port"])

    readings = {generation.current() for _ in range(200)}

    assert readings == {before}
    assert gets_served(private_redis["port"]) == served
    channel = f"{caches['default'].make_and_validate_key('test:generation')}:changed"
    redis.Redis(port=private_redis["port"]).publish(channel, b"")  # as another process's bump
    assert eventually(lambda: generation.current() != before)


def test_a_bump_here_changes_the_generation_here_at_once(private_redis):
    generation = SharedGeneration("test:generation")
    assert eventually(lambda: generation.current()[0] == "heard")
    before = generation.current()

    generation.bump()

    assert generation.current() != before
    assert caches["default"].get("test:generation") == 1  # for processes not following


def test_a_bump_here_changes_the_generation_here_once_not_again_when_redis_echoes_it(
    private_redis,
):
    generation = SharedGeneration("test:generation")
    assert eventually(lambda: generation.current()[0] == "heard")
    other = redis.Redis(port=private_redis["port"]).pubsub()
    other.subscribe(f"{caches['default'].make_and_validate_key('test:generation')}:changed")
    assert other.get_message(timeout=5)["type"] == "subscribe"

    generation.bump()
    bumped = generation.current()
    delivered = other.get_message(timeout=5)  # by then the echo has reached this process too
    time.sleep(0.1)

    assert delivered["type"] == "message"  # other processes hear it
    assert generation.current() == bumped
    other.close()


def test_with_redis_stopped_the_generation_is_read_and_followed_again_when_it_returns(
    private_redis,
):
    generation = SharedGeneration("test:generation")
    assert eventually(lambda: generation.current()[0] == "heard")
    followed = generation.current()

    redis_stop(private_redis)
    assert eventually(lambda: generation.current()[0] == "read")  # through the database cache
    generation.bump()  # lands in the database cache, where every process now reads it
    assert generation.current() == ("read", 1)

    private_redis["server"] = redis_start(private_redis["port"])
    assert eventually(lambda: generation.current()[0] == "heard", within=5 + 10 * 0.2)
    assert generation.current() != followed
    assert atom_cache.REDIS_RETRY_SECONDS == 0.2  # the fixture's, which the listener obeys
