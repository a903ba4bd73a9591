"""Warm pools: one skill version per runner, hot reload, recycling, the host's caps, preload,
concurrency."""

import hashlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from skills.runtime import CallLimits, SkillRef
from tests.skills.runtime.conftest import content_hash


def test_an_edited_skill_runs_its_new_code_in_a_runner_of_its_own(python_pool, write_skill):
    path = write_skill("greet.py", "def run(name):\n    return f'hello {name}'\n")
    first = python_pool.call(
        skill_id="greet", path=path, content_hash=content_hash(path), params={"name": "ada"}
    )
    path.write_text("def run(name):\n    return f'goodbye {name}'\n")

    second = python_pool.call(
        skill_id="greet", path=path, content_hash=content_hash(path), params={"name": "ada"}
    )
    third = python_pool.call(
        skill_id="greet", path=path, content_hash=content_hash(path), params={"name": "bob"}
    )

    assert (first.result, first.cache) == ("hello ada", "loaded")
    assert (second.result, second.cache) == ("goodbye ada", "reloaded")
    assert (third.result, third.cache) == ("goodbye bob", "hit")
    assert first.runner_pid != second.runner_pid == third.runner_pid
    assert second.content_hash == content_hash(path)
    # The first version's runner is shut: its skill has moved on.
    assert python_pool.stats().retired == 1


def test_a_call_naming_a_hash_the_file_no_longer_has_runs_the_file_and_says_so(
    python_pool, write_skill
):
    path = write_skill("moved.py", "def run():\n    return 'current'\n")

    result = python_pool.call(skill_id="moved", path=path, content_hash="0" * 64)

    assert (result.result, result.content_hash) == ("current", content_hash(path))


def test_a_runner_serves_one_skill_version_and_the_host_evicts_the_least_recently_used(
    make_registry, write_skill
):
    registry = make_registry(runners_per_host=3, min_runners=1)
    pool = registry.pool_for("lru", sys.executable, "python")
    paths = {name: write_skill(f"{name}.py", "def run():\n    return 1\n") for name in "abc"}
    pids = {}
    for name in "ab":
        pids[name] = pool.call(skill_id=name, path=paths[name]).runner_pid
        settle(registry)
    again_a = pool.call(skill_id="a", path=paths["a"]).runner_pid

    pids["c"] = pool.call(skill_id="c", path=paths["c"]).runner_pid
    settle(registry)

    assert len(set(pids.values())) == 3
    assert again_a == pids["a"]
    # b was the least recently used runner when c needed one: it went, a stayed.
    assert pool.call(skill_id="a", path=paths["a"]).runner_pid == pids["a"]
    assert pool.call(skill_id="b", path=paths["b"]).runner_pid != pids["b"]
    assert registry.runner_count <= 3
    assert pool.stats().evicted >= 1


def test_a_runner_is_recycled_after_its_maximum_number_of_calls(make_registry, write_skill):
    pool = make_registry(max_calls=2).pool_for("recycle", sys.executable, "python")
    path = write_skill("n.py", "def run():\n    return 1\n")

    pids = [pool.call(skill_id="n", path=path).runner_pid for _ in range(5)]

    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert pool.stats().recycled == 2


def test_a_full_host_shuts_the_least_recently_used_runner_first(make_registry, write_skill):
    registry = make_registry(runners_per_host=2, min_runners=1)
    path = write_skill("n.py", "def run():\n    return 1\n")
    oldest = registry.pool_for("oldest", sys.executable, "python")
    newer = registry.pool_for("newer", sys.executable, "python")
    newer.call(skill_id="n", path=path)

    third = registry.pool_for("third", sys.executable, "python")

    assert third.call(skill_id="n", path=path).ok is True
    settle(registry)
    assert registry.runner_count == 2
    assert oldest.size() == 0
    assert oldest.call(skill_id="n", path=path).ok is True
    settle(registry)
    assert registry.runner_count == 2
    assert oldest.stats().evicted + newer.stats().evicted + third.stats().evicted >= 3


def test_the_warm_runners_memory_together_is_capped(make_registry, write_skill):
    registry = make_registry(runners_memory_mb=64, min_runners=0)
    pool = registry.pool_for("memory", sys.executable, "python")
    hoarders = [
        write_skill(
            f"h{index}.py", f"KEPT = b'{index}' * (24 * 1024 * 1024)\ndef run():\n    return 1\n"
        )
        for index in range(5)
    ]

    for index, path in enumerate(hoarders):
        assert pool.call(skill_id=f"h{index}", path=path).ok is True

    assert pool.stats().evicted >= 2
    # What is left after the last start is at most the cap plus the one just started.
    assert registry.memory_in_use() <= (64 + 40) * 1024 * 1024


def test_idle_runners_are_closed_and_empty_pools_dropped(make_registry, write_skill):
    registry = make_registry(idle_seconds=3600)
    pool = registry.pool_for("idle", sys.executable, "python")
    pool.call(skill_id="n", path=write_skill("n.py", "def run():\n    return 1\n"))
    standby_wait(pool)
    assert registry.reap_idle() == 0

    registry.config = registry.config.with_changes(idle_seconds=0.0)
    closed = registry.reap_idle()

    assert closed == 2  # the skill's runner and the standby one
    assert registry.pools() == []
    assert registry.runner_count == 0
    assert pool.is_closed is True


def test_preloaded_skills_are_loaded_when_a_pool_starts(make_registry, write_skill):
    warm = write_skill("warm.py", "def run():\n    return 'warm'\n")
    broken = write_skill("broken.py", "raise ImportError('no such package')\n")
    pool = make_registry().pool_for(
        "preload",
        sys.executable,
        "python",
        preload=[SkillRef("warm", warm), SkillRef("broken", broken)],
    )

    result = pool.call(skill_id="warm", path=warm, content_hash=content_hash(warm))

    assert (result.result, result.cache) == ("warm", "hit")
    assert pool.stats().preload_errors == ("broken: ImportError: no such package",)


def test_concurrent_calls_across_pools_all_complete(make_registry, write_skill):
    registry = make_registry(min_runners=1, max_runners=3)
    path = write_skill("echo.py", "def run(n):\n    return n * 2\n")
    pools = [registry.pool_for(f"env-{index}", sys.executable, "python") for index in range(3)]
    barrier = threading.Barrier(12)

    def one(number: int) -> object:
        if number < 12:
            barrier.wait()
        return pools[number % 3].call(skill_id="echo", path=path, params={"n": number}).result

    with ThreadPoolExecutor(max_workers=12) as executor:
        results = list(executor.map(one, range(90)))

    assert results == [number * 2 for number in range(90)]
    assert sum(pool.stats().calls for pool in pools) == 90
    assert all(pool.stats().busy == 0 for pool in pools)
    assert registry.runner_count == sum(pool.size() for pool in pools)
    assert max(pool.size() for pool in pools) <= 3 + 1  # one version's runners and a standby


def test_a_timeout_above_the_cap_is_lowered_to_it(make_registry, write_skill):
    pool = make_registry(timeout_cap=0.5).pool_for("cap", sys.executable, "python")
    sleeper = write_skill("sleep.py", "import time\ndef run():\n    time.sleep(30)\n")

    result = pool.call(skill_id="sleep", path=sleeper, limits=CallLimits(timeout=60))

    assert result.error.type == "TimeoutError"
    assert "limit of 0.5 s" in result.error.message


def test_an_exact_version_runs_from_its_source_when_the_file_holds_another(
    python_pool, write_skill
):
    path = write_skill("pinned.py", "def run():\n    return 'on disk'\n")
    recorded = "def run():\n    return 'recorded'\n"
    recorded_hash = hashlib.sha256(recorded.encode()).hexdigest()
    sent = []

    def source() -> str:
        sent.append(True)
        return recorded

    first = python_pool.call(
        skill_id="pinned", path=path, content_hash=recorded_hash, source=source
    )
    second = python_pool.call(
        skill_id="pinned", path=path, content_hash=recorded_hash, source=source
    )

    assert (first.result, first.content_hash, first.cache) == ("recorded", recorded_hash, "loaded")
    assert (second.result, second.cache) == ("recorded", "hit")
    assert sent == [True]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_a_forked_child_never_stops_its_parents_runners(make_registry, write_skill):
    registry = make_registry()
    pool = registry.pool_for("fork", sys.executable, "python")
    path = write_skill("n.py", "def run():\n    return 1\n")
    before = pool.call(skill_id="n", path=path)

    child = os.fork()
    if child == 0:
        registry.shutdown()
        os._exit(0)
    os.waitpid(child, 0)
    after = pool.call(skill_id="n", path=path)

    assert (after.result, after.runner_pid) == (1, before.runner_pid)


def standby_wait(pool, count: int = 1) -> None:
    """Wait until the pool's standby runners, refilled in the background, are up."""
    for _ in range(400):
        if pool.stats().standby >= count:
            return
        time.sleep(0.025)
    raise AssertionError(f"no standby runner after 10 s: {pool.stats()}")


def test_standby_runners_import_the_environments_packages_before_a_first_call(
    make_registry, write_skill
):
    registry = make_registry()
    probe = write_skill(
        "probe.py", "import sys\ndef run():\n    return 'jsonschema' in sys.modules\n"
    )
    plain = registry.pool_for("plain", sys.executable, "python")
    primed = registry.pool_for("primed", sys.executable, "python", preimport=["jsonschema"])

    assert plain.call(skill_id="probe", path=probe).result is False
    assert primed.call(skill_id="probe", path=probe).result is True


def settle(registry) -> None:
    """Wait until no pool is starting a runner (standby runners start in the background)."""
    for _ in range(400):
        if all(pool.stats().starting == 0 for pool in registry.pools()):
            return
        time.sleep(0.025)
    raise AssertionError("runners still starting after 10 s")
