"""Each fault a skill can cause, with real runner processes, in every isolation mode."""

import os
import signal
import sys
import threading
import time
import uuid

import pytest

from skills.runtime import CallLimits

FAST = CallLimits(timeout=0.5)


def test_a_skill_that_loops_forever_times_out_and_its_runner_is_replaced(python_pool, write_skill):
    looping = write_skill("loop.py", "def run():\n    while True:\n        pass\n")
    quick = write_skill("quick.py", "def run():\n    return 'fine'\n")
    before = python_pool.call(skill_id="quick", path=quick)

    result = python_pool.call(skill_id="loop", path=looping, limits=FAST)

    assert result.ok is False
    assert result.error.type == "TimeoutError"
    assert "wall-clock limit of 0.5 s" in result.error.message
    assert result.is_runner_replaced is True
    after = python_pool.call(skill_id="quick", path=quick)
    # Each version has its own runner: the loop's was killed, quick's never noticed.
    assert (after.ok, after.result, after.cache) == (True, "fine", "hit")
    assert after.runner_pid == before.runner_pid != result.runner_pid
    stats = python_pool.stats()
    assert (stats.timed_out, stats.busy) == (1, 0)
    again = python_pool.call(skill_id="loop", path=looping, limits=FAST)
    assert again.runner_pid not in (result.runner_pid, before.runner_pid)


def test_a_timeout_kills_every_process_the_skill_started(python_pool, write_skill):
    marker = f"atom-orphan-{uuid.uuid4().hex}"
    spawning = write_skill(
        "spawn.py",
        f"""
        import subprocess, sys, time
        def run():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
            time.sleep(60)
        """,
    )

    result = python_pool.call(skill_id="spawn", path=spawning, limits=FAST)

    assert result.error.type == "TimeoutError"
    assert _wait_until_gone(marker) == []


def test_a_skill_that_allocates_without_bound_reports_a_memory_error_and_is_replaced(
    python_pool, write_skill
):
    hungry = write_skill(
        "hungry.py",
        """
        def run():
            hoard = []
            while True:
                hoard.append(bytearray(8 * 1024 * 1024))
        """,
    )
    quick = write_skill("quick.py", "def run():\n    return 'fine'\n")

    result = python_pool.call(
        skill_id="hungry", path=hungry, limits=CallLimits(timeout=10, memory_mb=128)
    )

    assert result.ok is False
    assert result.error.type == "MemoryError"
    assert "memory limit of 128 MB" in result.error.message
    assert result.is_runner_replaced is True
    assert python_pool.call(skill_id="quick", path=quick).result == "fine"
    assert python_pool.stats().retired == 1


def test_a_skill_that_calls_os_exit_fails_clearly_and_its_runner_is_replaced(
    python_pool, write_skill
):
    leaving = write_skill(
        "leave.py", "import os\ndef run():\n    print('bye', flush=True)\n    os._exit(3)\n"
    )
    quick = write_skill("quick.py", "def run():\n    return 'fine'\n")

    result = python_pool.call(skill_id="leave", path=leaving)

    assert result.ok is False
    assert result.error.type == "RunnerDied"
    assert "exited with code 3" in result.error.message
    assert result.stdout.text == "bye\n"
    assert result.is_runner_replaced is True
    assert python_pool.call(skill_id="quick", path=quick).result == "fine"
    assert python_pool.stats().died == 1


def test_a_skill_that_prints_megabytes_is_truncated_and_does_not_block(python_pool, write_skill):
    loud = write_skill(
        "loud.py",
        """
        import sys
        def run():
            for _ in range(4096):
                sys.stdout.write("x" * 1023 + "\\n")
                sys.stderr.write("e" * 1024)
            return "done"
        """,
    )

    result = python_pool.call(
        skill_id="loud", path=loud, limits=CallLimits(timeout=20, max_output_bytes=1000)
    )

    assert result.ok is True
    assert result.result == "done"
    assert result.stdout.total_bytes == 4096 * 1024
    assert result.stdout.is_truncated is True
    assert result.stdout.text.startswith("x" * 1000 + "\n[atom: output truncated, ")
    assert result.stdout.text.endswith(f"{4096 * 1024 - 1000} more bytes not shown]\n")
    assert result.stderr.total_bytes == 4096 * 1024
    assert result.stderr.is_truncated is True


def test_a_skill_that_raises_returns_the_type_message_and_traceback(python_pool, write_skill):
    failing = write_skill(
        "failing.py",
        """
        def helper(value):
            raise ValueError(f"bad value {value}")

        def run(value):
            return helper(value)
        """,
    )

    result = python_pool.call(skill_id="failing", path=failing, params={"value": 7})

    assert result.ok is False
    assert (result.error.type, result.error.message, result.error.stage) == (
        "ValueError",
        "bad value 7",
        "run",
    )
    assert result.error.traceback.startswith("Traceback (most recent call last):")
    assert f'File "{failing}", line 5, in run' in result.error.traceback
    assert 'raise ValueError(f"bad value {value}")' in result.error.traceback
    assert "runner.py" not in result.error.traceback
    assert result.is_runner_replaced is False


def test_a_skill_that_fails_to_import_reports_the_load_stage(python_pool, write_skill):
    broken = write_skill("broken.py", "import a_package_that_is_not_installed\ndef run(): pass\n")

    result = python_pool.call(skill_id="broken", path=broken)

    assert (result.error.type, result.error.stage) == ("ModuleNotFoundError", "load")
    assert "a_package_that_is_not_installed" in result.error.message
    assert result.cache is None


def test_secrets_in_the_host_environment_never_reach_a_skill(python_pool, write_skill, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "host-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/atom")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws")
    monkeypatch.setenv("SOME_HARMLESS_FLAG", "1")
    curious = write_skill("curious.py", "import os\ndef run():\n    return sorted(os.environ)\n")
    fresh = python_pool.call(skill_id="prime", path=write_skill("p.py", "def run(): pass\n"))
    assert fresh.ok
    python_pool.shrink_idle()  # the next runner starts after the variables were set

    names = python_pool.call(skill_id="curious", path=curious).result

    assert set(names) <= {
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "NO_COLOR",
        "PATH",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "PWD",
        "TMPDIR",
        "TZ",
    }
    assert "SECRET_KEY" not in names


def test_a_result_json_cannot_encode_is_a_clear_error(python_pool, write_skill):
    odd = write_skill("odd.py", "def run():\n    return {'tags': {1, 2}}\n")

    result = python_pool.call(skill_id="odd", path=odd)

    assert result.ok is False
    assert result.error.type == "ResultNotSerializable"
    assert result.error.message == (
        "the skill returned a value JSON cannot encode: "
        "TypeError: Object of type set is not JSON serializable"
    )
    assert result.is_runner_replaced is False


def test_sys_exit_and_reading_stdin_do_not_disturb_the_runner(python_pool, write_skill):
    reader = write_skill("reader.py", "import sys\ndef run():\n    return sys.stdin.read()\n")
    exiting = write_skill("exiting.py", "import sys\ndef run():\n    sys.exit(2)\n")

    assert python_pool.call(skill_id="reader", path=reader).result == ""
    result = python_pool.call(skill_id="exiting", path=exiting)

    assert (result.error.type, result.error.message) == ("SystemExit", "2")
    assert python_pool.call(skill_id="reader", path=reader).ok is True
    assert python_pool.call(skill_id="exiting", path=exiting).runner_pid == result.runner_pid
    assert (python_pool.stats().died, python_pool.stats().retired) == (0, 0)


def test_each_call_gets_its_own_empty_working_directory(python_pool, write_skill):
    writer = write_skill(
        "writer.py",
        """
        import os
        def run():
            found = sorted(os.listdir("."))
            with open("scratch.txt", "w") as handle:
                handle.write("x")
            return [os.getcwd(), found]
        """,
    )

    first = python_pool.call(skill_id="writer", path=writer).result
    second = python_pool.call(skill_id="writer", path=writer).result

    assert first[1] == second[1] == []
    assert first[0] != second[0]
    if python_pool.mode == "none":
        assert not os.path.exists(first[0])


def test_a_cpu_time_limit_stops_a_busy_skill(make_registry, write_skill, sandbox):
    if sandbox == "bwrap":
        pytest.skip("the runner sets RLIMIT_CPU itself, the same way in every mode")
    pool = make_registry().pool_for("cpu", sys.executable, "python")
    busy = write_skill("busy.py", "def run():\n    while True:\n        pass\n")

    result = pool.call(skill_id="busy", path=busy, limits=CallLimits(timeout=10, cpu_seconds=1))

    assert result.error.type == "CpuTimeLimitExceeded"
    assert "CPU time limit of 1 s" in result.error.message
    assert result.is_runner_replaced is True


def test_a_runner_killed_while_idle_is_replaced_without_failing_a_call(python_pool, write_skill):
    quick = write_skill("quick.py", "import os\ndef run():\n    return os.getpid()\n")
    python_pool.call(skill_id="quick", path=quick)
    [runner] = [r for runners in python_pool._idle.values() for r in runners]  # noqa: SLF001
    os.killpg(runner.pid, signal.SIGKILL)
    runner._process.wait()  # noqa: SLF001

    result = python_pool.call(skill_id="quick", path=quick)

    assert result.ok is True
    assert python_pool.stats().died == 1


def _wait_until_gone(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line holds ``marker``, once they
    have had a few seconds to die."""
    for _ in range(100):
        alive = [pid for pid in _pids() if _is_live_with(pid, marker)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _is_live_with(pid: int, marker: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if marker.encode() not in cmdline.read():
                return False
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def test_params_json_cannot_encode_are_refused_without_touching_a_runner(python_pool, write_skill):
    skill = write_skill("s.py", "def run(x):\n    return 1\n")

    with pytest.raises(ValueError, match="params must be JSON-encodable"):
        python_pool.call(skill_id="s", path=skill, params={"x": {1, 2}})

    stats = python_pool.stats()
    assert (stats.died, stats.calls, stats.idle, stats.standby) == (0, 0, 0, 1)


def test_a_runner_killed_in_the_middle_of_a_call_fails_the_call_clearly_and_is_replaced(
    python_pool, write_skill
):
    slow = write_skill("slow.py", "import time\ndef run():\n    time.sleep(30)\n")
    quick = write_skill("quick.py", "def run():\n    return 'fine'\n")
    python_pool.call(skill_id="quick", path=quick)
    outcome = {}
    caller = threading.Thread(
        target=lambda: outcome.update(result=python_pool.call(skill_id="slow", path=slow))
    )
    caller.start()
    deadline = time.monotonic() + 30
    while python_pool.stats().busy == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # into the skill's sleep
    [runner_pid] = {r.pid for r in python_pool.runners()} - {
        r.pid for r in python_pool.idle_runners()
    }

    os.killpg(runner_pid, signal.SIGKILL)
    caller.join(timeout=30)

    assert not caller.is_alive()
    result = outcome["result"]
    assert result.ok is False
    assert result.error.type == "RunnerDied"
    assert "signal 9" in result.error.message or "SIGKILL" in result.error.message
    assert result.is_runner_replaced is True
    assert python_pool.call(skill_id="quick", path=quick).result == "fine"
    assert runner_pid not in python_pool.host_pids()
    assert python_pool.stats().died == 1
