"""Control groups for runners: memory, process and CPU time limits that count every descendant.

Each runner gets its own group (one directory per controller on cgroup v1, one directory on
v2's unified hierarchy), made below this process's own group, so the limits of whatever runs
Atom still apply on top. The host reads the group after every call: its peak memory is the
call's, an out-of-memory kill or a refused fork fails the call, and every process the call
left behind is killed. The group's CPU time (v1's `cpuacct`, where mounted; v2's `cpu.stat`,
always there) is watched during a call: past the call's CPU time limit, all its processes
together, the runner is killed.

Which hierarchy is used is detected once (`cgroup_support`): v1 when its memory and pids
controllers are mounted, else v2 when the unified hierarchy offers both. Where neither can be
written (not root, no delegation), `CgroupSupport.is_available` is False and says why; the
runtime then falls back to rlimits and a lower runner cap (docs/sandbox.md).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from skills.runtime.sandbox import SandboxUnavailable

CONTROLLERS = ("memory", "pids")
# Used where mounted (v1): without it a call's CPU time is limited per process (RLIMIT_CPU).
ACCOUNTING = "cpuacct"


class CgroupUnavailable(SandboxUnavailable):
    """A runner's group could not be made: the runner does not start without its limits."""


_names = itertools.count(1)


@dataclass(frozen=True)
class CgroupSupport:
    version: int | None  # 1 or 2; None when unavailable
    # Where this process's runner groups are made, one directory per controller on v1.
    bases: dict[str, Path]
    reason: str

    @property
    def is_available(self) -> bool:
        return self.version is not None

    @property
    def counts_cpu(self) -> bool:
        """Whether a group's CPU time, every process together, can be read."""
        return self.version == 2 or ACCOUNTING in self.bases

    def describe(self) -> str:
        if not self.is_available:
            return f"unavailable: {self.reason}"
        where = ", ".join(f"{name} {path}" for name, path in sorted(self.bases.items()))
        return f"cgroup v{self.version} ({where})"


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, filesystem type, options) of every cgroup mount of this process."""
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            fields = line.split()
            separator = fields.index("-")
            kind = fields[separator + 1]
            if kind in ("cgroup", "cgroup2"):
                options = set(fields[5].split(",")) | set(fields[separator + 3].split(","))
                mounts.append((fields[4], kind, options))
    return mounts


def _own_groups() -> dict[str, str]:
    """This process's group path per v1 controller, and under "" its v2 group."""
    groups = {}
    with open("/proc/self/cgroup", encoding="utf-8") as lines:
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _writable_base(parent: Path) -> Path:
    _stale_bases_remove(parent)
    base = parent / f"atom-{os.getpid()}"
    base.mkdir(exist_ok=True)
    atexit.register(_base_remove, base)
    return base


def _stale_bases_remove(parent: Path) -> None:
    """Remove the groups left by Atom processes that are gone (killed, or exited without
    shutting their runners): empty groups are all a dead process can leave."""
    for base in parent.glob("atom-*"):
        pid = base.name.removeprefix("atom-")
        if not pid.isdigit() or int(pid) == os.getpid() or Path(f"/proc/{pid}").exists():
            continue
        for group in base.glob("runner-*"):
            with contextlib.suppress(OSError):
                group.rmdir()
        _base_remove(base)


def _base_remove(base: Path) -> None:
    with contextlib.suppress(OSError):
        base.rmdir()


@functools.cache
def cgroup_support() -> CgroupSupport:
    """Detect the hierarchy to use and make this process's base group(s) in it."""
    try:
        mounts = _mounts()
        own = _own_groups()
    except (OSError, ValueError) as error:
        return CgroupSupport(None, {}, f"cannot read this process's cgroups: {error}")
    v1 = {
        controller: Path(point)
        for point, kind, options in mounts
        for controller in CONTROLLERS
        if kind == "cgroup" and controller in options
    }
    try:
        if set(v1) == set(CONTROLLERS):
            bases = {
                controller: _writable_base(v1[controller] / own.get(controller, "/").lstrip("/"))
                for controller in CONTROLLERS
            }
            accounting = _accounting_base(mounts, own)
            if accounting is not None:
                bases[ACCOUNTING] = accounting
            return CgroupSupport(1, bases, "")
        unified = next((Path(point) for point, kind, _ in mounts if kind == "cgroup2"), None)
        if unified is None:
            return CgroupSupport(None, {}, "no memory and pids controllers are mounted")
        parent = unified / own.get("", "/").lstrip("/")
        offered = (parent / "cgroup.controllers").read_text().split()
        if not set(CONTROLLERS) <= set(offered):
            return CgroupSupport(
                None, {}, f"the unified hierarchy offers {' '.join(offered) or 'no controllers'}"
            )
        base = _writable_base(parent)
        (base / "cgroup.subtree_control").write_text("+memory +pids")
        return CgroupSupport(2, {"": base}, "")
    except OSError as error:
        return CgroupSupport(
            None, {}, f"cannot make a group ({error.strerror or error}: not root, no delegation?)"
        )


def _accounting_base(mounts: list[tuple[str, str, set[str]]], own: dict[str, str]) -> Path | None:
    """This process's base group under v1's `cpuacct`, or None where it cannot be made."""
    point = next(
        (point for point, kind, options in mounts if kind == "cgroup" and ACCOUNTING in options),
        None,
    )
    if point is None:
        return None
    try:
        return _writable_base(Path(point) / own.get(ACCOUNTING, "/").lstrip("/"))
    except OSError:
        return None


class RunnerCgroup:
    """One runner's group: its limits, its counters, and its processes."""

    def __init__(self, support: CgroupSupport, *, memory_bytes: int, max_processes: int) -> None:
        self.version = support.version
        name = f"runner-{os.getpid()}-{next(_names)}"  # forked workers share the base
        self.directories = {controller: base / name for controller, base in support.bases.items()}
        self.max_processes = max_processes
        self.members: frozenset[int] = frozenset()
        self._fds: dict[str, int] = {}
        self._memory_limit = 0
        try:
            for directory in self.directories.values():
                directory.mkdir()
            self.memory_limit_set(memory_bytes)
            self._write("pids", "pids.max", str(max_processes))
        except OSError:
            self.remove()
            raise
        # Kept open: a call reads or writes each of these, and opening a cgroup file costs
        # tens of microseconds where a pread on an open one costs a few.
        v1 = self.version == 1
        for name, controller, filename, flags in (
            ("peak", "memory", "memory.max_usage_in_bytes" if v1 else "memory.peak", os.O_RDWR),
            ("oom", "memory", "memory.oom_control" if v1 else "memory.events", os.O_RDONLY),
            ("forks", "pids", "pids.events", os.O_RDONLY),
            ("procs", "memory", "cgroup.procs", os.O_RDONLY),
            ("usage", "memory", "memory.usage_in_bytes" if v1 else "memory.current", os.O_RDONLY),
            ("cpu", ACCOUNTING, "cpuacct.usage" if v1 else "cpu.stat", os.O_RDONLY),
        ):
            if v1 and controller not in self.directories:
                continue
            with contextlib.suppress(OSError):
                self._fds[name] = os.open(self._path(controller, filename), flags | os.O_CLOEXEC)

    # Where files live: v1 has a directory per controller, v2 one for all.

    def _path(self, controller: str, name: str) -> Path:
        return self.directories[controller if self.version == 1 else ""] / name

    def _read(self, controller: str, name: str) -> str:
        return self._path(controller, name).read_text()

    def _write(self, controller: str, name: str, value: str) -> None:
        self._path(controller, name).write_text(value)

    @property
    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to join this group (before it execs)."""
        return [str(directory / "cgroup.procs") for directory in self.directories.values()]

    # Limits and counters -----------------------------------------------------------------------

    def memory_limit_set(self, memory_bytes: int) -> None:
        if memory_bytes == self._memory_limit:
            return
        if self.version == 1:
            self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            swap = self._path("memory", "memory.memsw.limit_in_bytes")
            if swap.exists():
                with contextlib.suppress(OSError):
                    swap.write_text(str(memory_bytes))
        else:
            self._write("memory", "memory.max", str(memory_bytes))
            with contextlib.suppress(OSError):
                self._write("memory", "memory.swap.max", "0")
        self._memory_limit = memory_bytes

    def _pread(self, name: str) -> str:
        fd = self._fds.get(name)
        if fd is None:
            return ""
        try:
            return os.pread(fd, 65536, 0).decode()
        except OSError:
            return ""

    def peak_reset(self) -> None:
        """Start the peak over (v2: for this descriptor, which `peak_bytes` reads)."""
        fd = self._fds.get("peak")
        if fd is not None:
            with contextlib.suppress(OSError):
                os.pwrite(fd, b"0" if self.version == 1 else b"reset", 0)

    def peak_bytes(self) -> int:
        try:
            return int(self._pread("peak"))
        except ValueError:
            return self.usage_bytes()

    def usage_bytes(self) -> int:
        try:
            return int(self._pread("usage"))
        except ValueError:
            return 0

    def cpu_seconds(self) -> float | None:
        """CPU time used by the group's processes so far, all together; None where unknown."""
        text = self._pread("cpu")
        if not text:
            return None
        if self.version == 1:
            try:
                return int(text) / 1e9
            except ValueError:
                return None
        return _keyed(text, "usage_usec") / 1e6

    def counters(self) -> tuple[int, int]:
        """(out-of-memory kills, forks refused at the process cap) so far."""
        return _keyed(self._pread("oom"), "oom_kill"), _keyed(self._pread("forks"), "max")

    # Processes ---------------------------------------------------------------------------------

    def pids(self) -> set[int]:
        return {int(pid) for pid in self._pread("procs").split()}

    def remember_members(self) -> None:
        """Take the runner's own processes (bwrap and the runner): they survive the sweeps."""
        self.members = frozenset(self.pids())

    def kill_strays(self) -> int:
        """Kill every process of the group that is not the runner's own; returns how many."""
        killed = 0
        for _ in range(self.max_processes + 10):
            strays = self.pids() - self.members
            if not strays:
                break
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        return killed

    def remove(self) -> None:
        """Kill what is left and remove the group's directories."""
        self.members = frozenset()
        self.kill_strays()
        for directory in self.directories.values():
            for _ in range(200):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # Killed processes leave the group a moment after their signal.
                    time.sleep(0.005)
                    self.kill_strays()
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = {}


def _keyed(text: str, key: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            with contextlib.suppress(ValueError):
                return int(value)
    return 0


def cgroup_join(procs_files: list[str]) -> None:
    """Move the calling process into a group (run in the child between fork and exec)."""
    pid = str(os.getpid())
    for path in procs_files:
        with open(path, "w") as procs:
            procs.write(pid)


def runner_cgroup_make(
    support: CgroupSupport, *, memory_mb: int, max_processes: int
) -> RunnerCgroup | None:
    """A new runner's group, or None where this host has none to give."""
    if not support.is_available:
        return None
    try:
        return RunnerCgroup(
            support, memory_bytes=memory_mb * 1024 * 1024, max_processes=max_processes
        )
    except OSError as error:
        raise CgroupUnavailable(
            f"cannot make a runner's cgroup under {support.describe()}: {error}"
        ) from None


def cgroup_support_for(mode: str) -> CgroupSupport:
    """The support the runtime's ``cgroups`` setting asks for (``off`` turns it off)."""
    if mode == "off":
        return CgroupSupport(None, {}, "turned off (ATOM_RUNNER_CGROUPS=off)")
    return cgroup_support()
