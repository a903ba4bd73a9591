"""The escapes a hostile skill tried (issue 19), each tried again against real runners.

A skill tampering with another's modules, a detached grandchild outliving its call, files left
for the next call, children that together take more memory than a call may, a fork bomb, and
reading what the host keeps secret.
"""

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from skills.runtime import CallLimits
from skills.runtime.sandbox import (
    SANDBOX_HOST_UID,
    privately_shown_slot,
    sandbox_host_identity,
)
from skills.runtime.seccomp import seccomp_program
from tests.skills.runtime.conftest import NODE, missing
from tests.skills.runtime.test_faults import _wait_until_gone


def test_a_skill_that_replaces_hashlib_sha256_cannot_change_another_skills_results(
    python_pool, write_skill
):
    tamper = write_skill(
        "tamper.py",
        """
        import hashlib
        class Zeros:
            def __init__(self, data=b""):
                pass
            def update(self, data):
                pass
            def hexdigest(self):
                return "0" * 64
        def run():
            hashlib.sha256 = Zeros
            return hashlib.sha256(b"x").hexdigest()
        """,
    )
    honest = write_skill(
        "honest.py", "import hashlib\ndef run():\n    return hashlib.sha256(b'atom').hexdigest()\n"
    )

    tampered = python_pool.call(skill_id="tamper", path=tamper)
    result = python_pool.call(skill_id="honest", path=honest)
    loaded_after = python_pool.call(
        skill_id="late", path=write_skill("late.py", "def run():\n    return 'loaded'\n")
    )

    assert tampered.result == "0" * 64
    assert (result.ok, result.result) == (True, hashlib.sha256(b"atom").hexdigest())
    assert (loaded_after.ok, loaded_after.result) == (True, "loaded")
    assert len({tampered.runner_pid, result.runner_pid, loaded_after.runner_pid}) == 3


def test_a_setsid_grandchild_is_dead_when_its_call_returns(make_registry, write_skill, cgroups):
    pool = make_registry().pool_for("setsid", sys.executable, "python")
    marker = f"atom-detached-{uuid.uuid4().hex}"
    detaching = write_skill(
        "detach.py",
        f"""
        import subprocess, sys
        def run():
            code = "import os, time; os.setsid(); time.sleep(60)"
            subprocess.Popen([sys.executable, "-c", code, "{marker}"], start_new_session=True)
            return "left it running"
        """,
    )

    result = pool.call(skill_id="detach", path=detaching)

    assert result.result == "left it running"
    assert _wait_until_gone(marker) == []
    assert pool.call(skill_id="detach", path=detaching).ok is True  # the runner itself stayed


def test_a_call_never_sees_the_files_of_another_call(python_pool, write_skill):
    writer = write_skill(
        "writer.py",
        """
        import os, tempfile
        def run():
            paths = [os.path.join(tempfile.gettempdir(), "left.txt"), os.path.abspath("cwd.txt")]
            for path in paths:
                with open(path, "w") as handle:
                    handle.write("secret")
            return paths
        """,
    )
    reader = write_skill(
        "reader.py",
        """
        def run(paths):
            seen = []
            for path in paths:
                try:
                    with open(path) as handle:
                        seen.append(handle.read())
                except OSError:
                    pass
            return seen
        """,
    )

    paths = python_pool.call(skill_id="writer", path=writer).result
    other_skill = python_pool.call(skill_id="reader", path=reader, params={"paths": paths})
    same_skill_next_call = python_pool.call(skill_id="writer", path=writer)

    assert other_skill.result == []
    assert same_skill_next_call.ok is True
    assert all(not os.path.exists(path) for path in paths)


def test_the_sandboxs_own_tmp_is_emptied_after_every_call(make_registry, write_skill):
    pool = make_registry(sandbox="bwrap").pool_for("tmp", sys.executable, "python")
    skill = write_skill(
        "tmp.py",
        """
        import os
        def run():
            found = os.path.exists("/tmp/left-behind")
            with open("/tmp/left-behind", "w") as handle:
                handle.write("x")
            return found
        """,
    )

    assert [pool.call(skill_id="tmp", path=skill).result for _ in range(2)] == [False, False]


def test_children_that_together_pass_the_memory_limit_fail_the_call(
    make_registry, write_skill, cgroups
):
    pool = make_registry().pool_for("hoard", sys.executable, "python")
    hoarding = write_skill(
        "hoard.py",
        """
        import subprocess, sys
        def run():
            code = "import time; kept = b'x' * (400 * 1024 * 1024); time.sleep(5)"
            children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(10)]
            return [child.wait() for child in children]
        """,
    )

    result = pool.call(skill_id="hoard", path=hoarding, limits=CallLimits(timeout=60))

    assert result.ok is False
    assert result.error.type == "MemoryLimitExceeded"
    assert "memory limit of 512 MB" in result.error.message
    assert result.is_runner_replaced is True
    assert result.peak_rss_kb <= 512 * 1024


def test_a_fork_bomb_stops_at_the_process_cap_and_its_runner_is_replaced(
    make_registry, write_skill, cgroups
):
    pool = make_registry(max_processes=32).pool_for("bomb", sys.executable, "python")
    bomb = write_skill(
        "bomb.py",
        """
        import os, time
        def run():
            while True:
                try:
                    if os.fork() == 0:
                        time.sleep(60)
                except OSError:
                    return "refused"
        """,
    )

    result = pool.call(skill_id="bomb", path=bomb, limits=CallLimits(timeout=30))
    after = pool.call(skill_id="bomb", path=bomb, limits=CallLimits(timeout=30))

    assert result.ok is False
    assert result.error.type == "ProcessLimitExceeded"
    assert "more than 32 processes" in result.error.message
    assert result.is_runner_replaced is True
    assert after.runner_pid != result.runner_pid
    assert pool.stats().retired >= 1


def test_a_call_reports_the_cpu_time_of_every_process_it_started(
    make_registry, write_skill, cgroups_counting_cpu
):
    pool = make_registry().pool_for("child-cpu", sys.executable, "python")
    skill = write_skill(
        "child_cpu.py",
        """
        import subprocess, sys
        def run():
            code = "while __import__('time').process_time() < 0.5: pass"
            return subprocess.run([sys.executable, "-c", code]).returncode
        """,
    )

    result = pool.call(skill_id="child-cpu", path=skill, limits=CallLimits(timeout=30))

    assert result.result == 0
    assert 0.5 <= result.cpu_seconds < 5  # the child's, which the runner only waited for


def test_children_that_together_pass_the_cpu_time_limit_fail_the_call(
    make_registry, write_skill, cgroups_counting_cpu
):
    pool = make_registry().pool_for("burn", sys.executable, "python")
    burning = write_skill(
        "burn.py",
        """
        import subprocess, sys, time
        def run():
            # Each child stays under the per-process limit (RLIMIT_CPU): 0.6 s of CPU time.
            code = "while __import__('time').process_time() < 0.6: pass"
            started = time.monotonic()
            children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
            return [child.wait() for child in children], time.monotonic() - started
        """,
    )

    result = pool.call(skill_id="burn", path=burning, limits=CallLimits(timeout=30, cpu_seconds=1))

    assert result.ok is False
    assert result.error.type == "CpuTimeLimitExceeded"
    assert "exceeded its CPU time limit of 1 s, all its processes" in result.error.message
    assert result.is_runner_replaced is True
    assert pool.call(skill_id="burn", path=burning, limits=CallLimits(timeout=30)).ok


SNOOP = """
import os
def run(paths):
    found = {"uid": os.getuid(), "secret_in_env": "SECRET_KEY" in os.environ}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            found[path] = "read"
        except OSError as error:
            found[path] = type(error).__name__
    return found
"""


def test_a_sandboxed_skill_reads_none_of_the_hosts_secrets(make_registry, write_skill, sandbox):
    if sandbox == "none":
        pytest.skip("without a sandbox a runner sees what the host user sees")
    pool = make_registry().pool_for("snoop", sys.executable, "python")
    settings_file = str(settings.BASE_DIR / "atom_site" / "settings.py")
    secrets = [
        "/etc/shadow",
        "/etc/sudoers",
        "/etc/ssh/ssh_host_rsa_key",
        "/root/.ssh/id_rsa",
        str(settings.ATOM_DATA_DIR),
        settings_file,
        "/proc/1/environ",
    ]

    found = pool.call(
        skill_id="snoop", path=write_skill("snoop.py", SNOOP), params={"paths": secrets}
    ).result

    assert found.pop("uid") == 1000
    assert found.pop("secret_in_env") is False
    assert set(found) == set(secrets)
    assert "read" not in [found[path] for path in secrets if path != "/proc/1/environ"]
    # Its own namespace's init: bwrap, with the scrubbed environment, never the host's.
    assert found["/proc/1/environ"] in ("read", "PermissionError")


def test_a_sandboxed_skill_cannot_make_a_user_namespace_of_its_own(make_registry, write_skill):
    pool = make_registry(sandbox="bwrap").pool_for("nest", sys.executable, "python")
    skill = write_skill(
        "nest.py",
        "import os\n"
        "def run():\n"
        "    try:\n"
        "        os.unshare(os.CLONE_NEWUSER)\n"
        "    except OSError as error:\n"
        "        return error.errno\n"
        "    return 'unshared'\n",
    )

    # Refused by the seccomp filter; where it cannot be loaded, by bwrap's --disable-userns.
    expected = errno.EPERM if seccomp_program() is not None else errno.ENOSPC
    assert pool.call(skill_id="nest", path=skill).result == expected


SYSCALLS = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
def run(calls):
    found = {}
    for name, (number, *arguments) in calls.items():
        ctypes.set_errno(0)
        answer = libc.syscall(number, *(ctypes.c_long(argument) for argument in arguments))
        found[name] = errno.errorcode[ctypes.get_errno()] if answer == -1 else "answered"
    return found
"""


def test_a_sandboxed_skill_is_refused_the_system_calls_no_skill_needs(make_registry, write_skill):
    import pyseccomp

    def number(name: str) -> int:
        return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)

    pool = make_registry(sandbox="bwrap").pool_for("syscalls", sys.executable, "python")
    skill = write_skill("syscalls.py", SYSCALLS)
    calls = {
        # Each would answer, or fail otherwise than EPERM, without the filter.
        "keyctl": [number("keyctl"), 0, -3, 0],  # KEYCTL_GET_KEYRING_ID of the session's
        "io_uring_setup": [number("io_uring_setup"), 1, 0],
        "ptrace": [number("ptrace"), 0, 0, 0, 0],  # PTRACE_TRACEME
        "perf_event_open": [number("perf_event_open"), 0, 0, -1, -1, 0],
        "getppid": [number("getppid")],  # allowed: the filter lets the rest through
    }

    result = pool.call(skill_id="syscalls", path=skill, params={"calls": calls})

    assert result.result == {
        "keyctl": "EPERM",
        "io_uring_setup": "EPERM",
        "ptrace": "EPERM",
        "perf_event_open": "EPERM",
        "getppid": "answered",
    }


def test_the_sandbox_shows_only_the_parts_of_etc_a_program_needs(make_registry, write_skill):
    pool = make_registry(sandbox="bwrap").pool_for("etc", sys.executable, "python")
    skill = write_skill(
        "etc.py",
        "import os, pwd\n"
        "def run():\n"
        "    return [sorted(os.listdir('/etc')), pwd.getpwuid(1000).pw_name]\n",
    )

    listed, user = pool.call(skill_id="etc", path=skill).result

    assert user == "skill"
    assert {"shadow", "sudoers", "ssh", "gshadow"}.isdisjoint(listed)
    assert {"passwd", "group", "ld.so.cache"} <= set(listed)


def test_a_timeout_kills_a_detached_child_that_ignores_signals(python_pool, write_skill):
    marker = f"atom-stubborn-{uuid.uuid4().hex}"
    stubborn = write_skill(
        "stubborn.py",
        f"""
        import subprocess, sys, time
        def run():
            code = (
                "import os, signal, time; os.setsid(); "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
            )
            subprocess.Popen([sys.executable, "-c", code, "{marker}"], start_new_session=True)
            time.sleep(60)
        """,
    )

    result = python_pool.call(skill_id="stubborn", path=stubborn, limits=CallLimits(timeout=1))

    assert result.error.type == "TimeoutError"
    assert _wait_until_gone(marker) == []


def test_without_cgroups_runs_fall_back_to_rlimits_and_fewer_runners(make_registry, write_skill):
    registry = make_registry(cgroups="off", runners_per_host=64)
    pool = registry.pool_for("fallback", sys.executable, "python")
    hungry = write_skill("hungry.py", "def run():\n    return len(b'x' * (1 << 30))\n")
    [standby] = pool.runners()

    result = pool.call(skill_id="hungry", path=hungry, limits=CallLimits(memory_mb=128))

    assert registry.runner_cap == 8
    assert standby.cgroup is None
    assert (result.error.type, result.is_runner_replaced) == ("MemoryError", True)
    assert "memory limit of 128 MB (RLIMIT_AS)" in result.error.message


@pytest.mark.parametrize("kind", ["python", "node"])
def test_under_bwrap_a_detached_grandchild_dies_with_its_call_even_without_cgroups(
    make_registry, write_skill, kind
):
    if kind == "node" and NODE is None:
        missing("node is not installed here")
    registry = make_registry(sandbox="bwrap", cgroups="off")
    marker = f"atom-detached-{uuid.uuid4().hex}"
    if kind == "python":
        pool = registry.pool_for("sweep-python", sys.executable, "python")
        skill = write_skill(
            "detach.py",
            f"""
            import subprocess
            def run():
                subprocess.Popen(["sleep", "60", "{marker}"], start_new_session=True)
                return "left it running"
            """,
        )
    else:
        pool = registry.pool_for("sweep-node", NODE, "node")
        skill = write_skill(
            "detach.js",
            f"""
            const {{ spawn }} = require("node:child_process");
            exports.run = () => {{
              spawn("sleep", ["60", "{marker}"], {{ detached: true, stdio: "ignore" }}).unref();
              return "left it running";
            }};
            """,
        )

    result = pool.call(skill_id="detach", path=skill)

    assert result.result == "left it running"
    assert _wait_until_gone(marker) == []
    assert pool.call(skill_id="detach", path=skill).ok is True


def test_groups_left_by_an_atom_process_that_died_are_removed(cgroups):
    from skills.runtime.cgroups import _stale_bases_remove, cgroup_support

    parent = next(iter(cgroup_support().bases.values())).parent
    left = parent / "atom-4194304"  # pids stay below PID_MAX_LIMIT (4194304): never alive
    (left / "runner-4194304-1").mkdir(parents=True)

    _stale_bases_remove(parent)

    assert not left.exists()
    assert next(iter(cgroup_support().bases.values())).exists()  # our own stays


def host_uids(pid: int) -> set[int]:
    """The real uids, as the host sees them, of a process and all its descendants."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= host_uids(int(child))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            found.add(int(line.split()[1]))
    return found


# nobody by default; a uid of the operator's choosing (ATOM_SANDBOX_HOST_UID), which needs no
# account, keeps daemons that run as nobody away from the runners.
@pytest.mark.parametrize("host_uid", [SANDBOX_HOST_UID, 64999])
def test_on_a_root_host_the_sandbox_runs_unprivileged_even_where_only_root_can_reach_its_python(
    make_registry, write_skill, host_uid
):
    if os.geteuid() != 0:
        pytest.skip("Atom is not root here: the sandbox's uid is Atom's own outside")
    hidden = Path(tempfile.mkdtemp(prefix="atom-root-only-"))  # mode 0700: root's alone
    try:
        environment = hidden / "env"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True
        )
        (environment / "only-root-could-reach").write_text("seen", encoding="utf-8")
        (environment / "only-root-could-reach").chmod(0o644)
        skill = write_skill(
            "uid.py",
            """
            import os, sys
            def run():
                seen = open(os.path.join(sys.prefix, "only-root-could-reach")).read()
                try:
                    open(os.path.join(sys.prefix, "written"), "w")
                    written = "written"
                except OSError as error:
                    written = error.errno
                return [os.getuid(), sys.prefix, seen, written]
            """,
        )
        registry = make_registry(sandbox="bwrap", sandbox_host_uid=host_uid)
        pool = registry.pool_for("root-only-python", str(environment / "bin" / "python"), "python")

        result = pool.call(skill_id="uid", path=skill)
        outside = host_uids(result.runner_pid)
        identity = sandbox_host_identity(interpreter=environment / "bin" / "python", uid=host_uid)
        slot = privately_shown_slot(environment)
    finally:
        shutil.rmtree(hidden)

    assert result.result == [1000, str(environment), "seen", errno.EROFS]
    assert outside == {host_uid}
    assert environment in identity.shown_privately
    assert list(slot.iterdir()) == []  # the host sees nothing of it on its slot


def test_threads_starting_runners_at_once_share_one_empty_slot_per_path(tmp_path):
    """The bind and bwrap's options are made apart: they must name the same slot."""
    shown = tmp_path / "environment"
    shown.mkdir()
    (shown / "package.py").write_text("x = 1\n")
    with ThreadPoolExecutor(max_workers=8) as threads:
        slots = set(threads.map(lambda _: privately_shown_slot(shown), range(32)))

    (slot,) = slots
    assert slot.is_dir()
    assert list(slot.iterdir()) == []
    assert stat.S_IMODE(slot.stat().st_mode) == 0o755


def test_a_path_other_users_may_not_read_keeps_the_sandbox_root_mapped_and_says_which(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("Atom is not root here: the sandbox's uid is Atom's own outside")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)

    identity = sandbox_host_identity(interpreter=Path(sys.executable), read_only=[private])

    assert identity.uid is None
    assert identity.reason == f"root outside: {private} is not readable by other users"
