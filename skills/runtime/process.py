"""One runner process, seen from the host: start it, exchange frames, capture its output, kill it.

Everything here runs in the calling thread: while it waits for an answer it also drains the
runner's stdout and stderr pipes (keeping a bounded prefix of each), so a skill that prints
megabytes never blocks on a full pipe and never mixes its bytes into the protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atom_site.lifetimes import parent_death_signal
from skills.runtime.calls import CapturedOutput
from skills.runtime.cgroups import RunnerCgroup, cgroup_join
from skills.runtime.sandbox import (
    SANDBOX_HOST_UID,
    HostIdentity,
    host_user_become,
    privately_shown_binder,
    runner_command,
    runner_environment,
    sandbox_host_identity,
)
from skills.runtime.seccomp import seccomp_fd

HEADER = struct.Struct(">I")
MAX_ANSWER_BYTES = 256 * 1024 * 1024
READ_CHUNK = 1 << 16
# How often a call's group CPU time is read while its answer is awaited: a call that answers
# sooner never reads it; one over its limit runs at most this much longer (times its cores).
CPU_CHECK_SECONDS = 0.05
MAX_CHUNKS_PER_DRAIN = 64
TRUNCATION_MARKER = "\n[atom: output truncated, {hidden} more bytes not shown]\n"

# Who hears what a call prints as it prints it (the live log of a run): called with the stream
# ("stdout" or "stderr") and each chunk read, in the calling thread.
OutputListener = Callable[[str, bytes], None]
output_listener: ContextVar[OutputListener | None] = ContextVar("output_listener", default=None)


class RunnerError(Exception):
    """The runner cannot answer: it died, broke the protocol or ran out of time."""


class RunnerTimedOut(RunnerError):
    pass


class RunnerDied(RunnerError):
    pass


class RunnerCpuExceeded(RunnerError):
    """The call's processes together used more CPU time than the call may."""


class ProtocolViolation(RunnerError):
    pass


class Spawner:
    """Starts every runner from one long-lived thread.

    bwrap's ``--die-with-parent`` uses PR_SET_PDEATHSIG, which fires when the *thread* that
    forked the process ends, not the process: a runner started from a request's or a worker
    pool's short-lived thread would be killed when that thread finished.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[Callable[..., Any], tuple, dict, Future]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._ensure_thread()
        future: Future = Future()
        self._requests.put((function, args, kwargs, future))
        return future.result()

    def after_fork(self) -> None:
        self._requests = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread = None

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="atom-runner-spawner", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            function, args, kwargs, future = self._requests.get()
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                future.set_exception(error)


SPAWNER = Spawner()


def _child_setup(
    *, procs_files: list[str], dies_with_parent: bool, host: HostIdentity | None = None
) -> Callable[[], None] | None:
    """What the runner's process does between fork and exec: join its group first, so that
    bwrap and everything after it are counted (as root: the group's files are root's), bind
    what only root can reach on its slots, then become the host's sandbox user if there is one,
    and die with the spawner's thread."""
    host_uid = host.uid if host is not None else None
    if not procs_files and not dies_with_parent and host_uid is None:
        return None
    bind = privately_shown_binder(host.shown_privately) if host and host.shown_privately else None
    die_with_parent = parent_death_signal(signal.SIGKILL) if dies_with_parent else None

    def setup() -> None:
        if procs_files:
            cgroup_join(procs_files)
        if bind is not None:
            bind()
        if host_uid is not None:
            host_user_become(host_uid)
        if die_with_parent is not None:
            die_with_parent()

    return setup


@dataclass(frozen=True)
class GroupReport:
    """What a runner's group saw during one call."""

    peak_kb: int
    oom_kills: int
    forks_refused: int
    strays_killed: int
    cpu_seconds: float | None  # every process of the call together; None where unknown


class BoundedBuffer:
    """Keeps the first ``limit`` bytes written to it and counts the rest."""

    __slots__ = ("data", "limit", "listener", "stream", "total")

    def __init__(
        self, limit: int, *, stream: str = "", listener: OutputListener | None = None
    ) -> None:
        self.data = bytearray()
        self.limit = limit
        self.total = 0
        self.stream = stream
        self.listener = listener

    def add(self, chunk: bytes) -> None:
        if self.listener is not None:
            self.listener(self.stream, chunk)
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def captured(self) -> CapturedOutput:
        text = self.data.decode("utf-8", errors="replace")
        is_truncated = self.total > len(self.data)
        if is_truncated:
            text += TRUNCATION_MARKER.format(hidden=self.total - len(self.data))
        return CapturedOutput(text=text, total_bytes=self.total, is_truncated=is_truncated)


class RunnerProcess:
    """A started runner. Not thread-safe: a pool hands it to one caller at a time."""

    def __init__(
        self,
        *,
        kind: str,
        interpreter: Path,
        mode: str,
        network: bool = False,
        cache_size: int = 256,
        memory_mb: int = 512,
        read_only: Iterable[Path] = (),
        extra_env: Mapping[str, str] | None = None,
        start_timeout: float = 15.0,
        cgroup: RunnerCgroup | None = None,
        preimport: Iterable[str] = (),
        host_uid: int = SANDBOX_HOST_UID,
    ) -> None:
        self.kind = kind
        self.cgroup = cgroup
        # The (skill id, content hash) this runner serves, once a call or preload bound it.
        self.version: tuple[str, str] | None = None
        self._counters_before = (0, 0)
        self._group_final: tuple[tuple[int, int], int, float | None] | None = None
        self._cpu_before: float | None = None
        self._cpu_limit: float | None = None
        self._cpu_checked_at = 0.0
        self.mode = mode
        self.network = network
        self.calls = 0
        self.created_at = time.monotonic()
        self.last_used = self.created_at
        self.pid: int | None = None
        self.child_pid: int | None = None
        self._owner_pid = os.getpid()
        self._buffer = bytearray()
        self._stdout = BoundedBuffer(0)
        self._stderr = BoundedBuffer(0)
        self._closed = False
        # In bwrap mode /tmp is the sandbox's own tmpfs, so the host makes no directory.
        self._home = tempfile.mkdtemp(prefix="atom-runner-") if mode == "none" else None
        home = self._home or "/tmp"
        request_read, self._request_fd = os.pipe()
        self._answer_fd, answer_write = os.pipe()
        self._stdout_fd, stdout_write = os.pipe()
        self._stderr_fd, stderr_write = os.pipe()
        for fd in (self._request_fd, self._answer_fd, self._stdout_fd, self._stderr_fd):
            os.set_blocking(fd, False)
        read_only = list(read_only)
        filter_fd = seccomp_fd() if mode == "bwrap" else None
        host = (
            sandbox_host_identity(interpreter=interpreter, read_only=read_only, uid=host_uid)
            if mode == "bwrap"
            else None
        )
        self.host_uid = host.uid if host is not None else None
        passed = (request_read, answer_write) + (() if filter_fd is None else (filter_fd,))
        command = runner_command(
            kind=kind,
            interpreter=interpreter,
            mode=mode,
            network=network,
            in_fd=request_read,
            out_fd=answer_write,
            cache_size=cache_size,
            memory_mb=memory_mb,
            read_only=read_only,
            preimport=preimport,
            seccomp_fd=filter_fd,
            shown_privately=host.shown_privately if host is not None else (),
        )
        try:
            self._process = SPAWNER.run(
                subprocess.Popen,
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout_write,
                stderr=stderr_write,
                pass_fds=passed,
                env=runner_environment(home=home, interpreter=interpreter, extra=extra_env),
                cwd=self._home or "/",
                start_new_session=True,
                # bwrap's --die-with-parent does this for a sandboxed runner; without it, a
                # runner whose worker was SIGKILLed would finish its call anyway, and a
                # workflow step retried elsewhere would have run twice.
                preexec_fn=_child_setup(
                    procs_files=cgroup.procs_files if cgroup is not None else [],
                    dies_with_parent=mode == "none",
                    host=host,
                ),
            )
        except (OSError, subprocess.SubprocessError):
            self._close_fds()
            if cgroup is not None:
                cgroup.remove()
            if self._home is not None:
                shutil.rmtree(self._home, ignore_errors=True)
            raise
        finally:
            for fd in (request_read, answer_write, stdout_write, stderr_write, filter_fd):
                if fd is not None:
                    os.close(fd)
        self.pid = self._process.pid
        self._stderr = BoundedBuffer(4096)
        try:
            ready = self._read_answer(time.monotonic() + start_timeout, "start")
        except RunnerError as error:
            self.kill()
            said = self._stderr.captured().text.strip()
            raise type(error)(f"{error} on start{': ' + said[-1000:] if said else ''}") from None
        if not ready.get("ready"):
            self.kill()
            raise ProtocolViolation(f"runner sent {ready!r} instead of its ready message")
        self.child_pid = ready.get("pid")
        if cgroup is not None:
            cgroup.remember_members()

    def memory_bytes(self) -> int:
        """What the runner holds now: its group's usage, else its own resident set."""
        if self.cgroup is not None:
            return self.cgroup.usage_bytes()
        pid = self.child_pid if self.mode == "none" else None
        try:
            with open(f"/proc/{pid or self.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmRSS:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def group_call_begin(self, memory_mb: int, cpu_seconds: float) -> bool:
        """Before a call: the group's limits for it, its peak reset, its counters noted. False
        when the runner already holds more than the call may (the limit cannot be lowered)."""
        if self.cgroup is None:
            return True
        try:
            self.cgroup.memory_limit_set(memory_mb * 1024 * 1024)
        except OSError:
            return False
        self.cgroup.peak_reset()
        self._counters_before = self.cgroup.counters()
        self._cpu_before = self.cgroup.cpu_seconds()
        self._cpu_limit = cpu_seconds if self._cpu_before is not None else None
        self._cpu_checked_at = time.monotonic()
        return True

    def _cpu_used(self) -> float | None:
        """The current call's CPU time so far, every process of its group together."""
        if self.cgroup is None or self._cpu_before is None:
            return None
        now = self.cgroup.cpu_seconds()
        return None if now is None else now - self._cpu_before

    def _cpu_watch(self) -> None:
        """During a call, at most every `CPU_CHECK_SECONDS`: past its CPU time, it ends."""
        if self._cpu_limit is None or time.monotonic() - self._cpu_checked_at < CPU_CHECK_SECONDS:
            return
        self._cpu_checked_at = time.monotonic()
        used = self._cpu_used()
        if used is not None and used > self._cpu_limit:
            raise RunnerCpuExceeded(f"the call's processes used {used:.1f} s of CPU time")

    def group_call_end(self) -> GroupReport | None:
        """After a call (answered or not): kill what it left running, report what it used."""
        if self.cgroup is None:
            return None
        self._cpu_limit = None
        if self._group_final is not None:  # killed during the call: what its group had seen
            (oom_kills, forks_refused), peak, cpu = self._group_final
            strays = 0
        else:
            strays = self.cgroup.kill_strays()
            (oom_kills, forks_refused), peak = self.cgroup.counters(), self.cgroup.peak_bytes()
            cpu = self._cpu_used()
        return GroupReport(
            peak_kb=peak // 1024,
            oom_kills=oom_kills - self._counters_before[0],
            forks_refused=forks_refused - self._counters_before[1],
            strays_killed=strays,
            cpu_seconds=cpu,
        )

    @property
    def is_alive(self) -> bool:
        return not self._closed and self._process.poll() is None

    def request(
        self, payload: Mapping[str, Any], *, timeout: float, max_output_bytes: int = 0
    ) -> tuple[dict[str, Any], CapturedOutput, CapturedOutput]:
        """Send one request and wait for its answer, capturing what the runner prints.

        On a timeout the runner's whole process group is killed before RunnerTimedOut is
        raised; if the runner dies, RunnerDied says how.
        """
        if self._closed:
            raise RunnerDied("the runner was already shut down")
        deadline = time.monotonic() + timeout
        self._stdout.listener = self._stderr.listener = None  # the previous call's
        self._drain_output()  # leftovers of a process a previous call left behind
        listener = output_listener.get()
        self._stdout = BoundedBuffer(max_output_bytes, stream="stdout", listener=listener)
        self._stderr = BoundedBuffer(max_output_bytes, stream="stderr", listener=listener)
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        try:
            self._write(HEADER.pack(len(body)) + body, deadline)
            answer = self._read_answer(deadline, "call")
        except RunnerError:
            self.kill()
            raise
        finally:
            self.last_used = time.monotonic()
        self._drain_output()
        return answer, self._stdout.captured(), self._stderr.captured()

    def output_so_far(self) -> tuple[CapturedOutput, CapturedOutput]:
        """What the current call printed, e.g. before its runner died."""
        return self._stdout.captured(), self._stderr.captured()

    def close(self, grace: float = 1.0) -> None:
        """Ask the runner to leave (end of its requests), then kill whatever is left."""
        if self._closed:
            return
        self._request_fd = self._close_fd(self._request_fd)
        try:
            self._process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        """Kill the runner's whole process group (bwrap and all it started, in bwrap mode)."""
        if self._closed:
            return
        self._closed = True
        if os.getpid() != self._owner_pid:
            self._close_fds()  # a forked copy: the runner belongs to the parent
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        self._close_fds()
        if self.cgroup is not None:
            self._group_final = (self.cgroup.counters(), self.cgroup.peak_bytes(), self._cpu_used())
            self.cgroup.remove()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    def interrupt(self) -> None:
        """Kill the runner's process group from another thread than the one calling it: the
        caller then reads the end of the answer pipe (`RunnerDied`) and tidies up as ever."""
        if self._closed or os.getpid() != self._owner_pid:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def exit_description(self) -> str:
        code = self._process.poll()
        if code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(timeout=1)
        if code is None:
            return "stopped answering"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"was killed by {signal.Signals(-code).name}"
            return f"was killed by signal {-code}"
        return f"exited with code {code}"

    # Pipes -------------------------------------------------------------------------------------

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunnerTimedOut("timed out sending the request")
            readable, writable, _ = select.select(
                self._output_fds(), [self._request_fd], [], remaining
            )
            self._drain_ready(readable)
            if writable:
                try:
                    view = view[os.write(self._request_fd, view) :]
                except BrokenPipeError:
                    raise RunnerDied(f"the runner {self.exit_description()}") from None

    def _read_answer(self, deadline: float, stage: str) -> dict[str, Any]:
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunnerTimedOut(f"no answer during {stage}")
            self._cpu_watch()
            if self._cpu_limit is not None:
                remaining = min(remaining, CPU_CHECK_SECONDS)
            readable, _, _ = select.select(
                [self._answer_fd, *self._output_fds()], [], [], remaining
            )
            self._drain_ready(readable)
            if self._answer_fd in readable:
                try:
                    chunk = os.read(self._answer_fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                if not chunk:
                    self._drain_output()
                    raise RunnerDied(f"the runner {self.exit_description()}")
                self._buffer += chunk

    def _take_frame(self) -> dict[str, Any] | None:
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        if size > MAX_ANSWER_BYTES:
            raise ProtocolViolation(f"answer frame of {size} bytes is over the limit")
        end = HEADER.size + size
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        try:
            answer = json.loads(body)
        except ValueError as error:
            raise ProtocolViolation(f"the runner sent a frame that is not JSON: {error}") from None
        if not isinstance(answer, dict):
            raise ProtocolViolation("the runner sent a frame that is not a JSON object")
        return answer

    def _output_fds(self) -> list[int]:
        return [fd for fd in (self._stdout_fd, self._stderr_fd) if fd >= 0]

    def _drain_ready(self, readable: list[int]) -> None:
        if self._stdout_fd in readable:
            self._drain_output()
        elif self._stderr_fd in readable:
            self._drain_output()

    def _drain_output(self) -> None:
        if not self._read_available(self._stdout_fd, self._stdout):
            self._stdout_fd = self._close_fd(self._stdout_fd)
        if not self._read_available(self._stderr_fd, self._stderr):
            self._stderr_fd = self._close_fd(self._stderr_fd)

    @staticmethod
    def _read_available(fd: int, sink: BoundedBuffer) -> bool:
        """Read what is there without blocking; False once the pipe is closed for good."""
        if fd < 0:
            return False
        # Bounded, so a skill printing without end cannot keep the caller from its deadline.
        for _ in range(MAX_CHUNKS_PER_DRAIN):
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            sink.add(chunk)
        return True

    @staticmethod
    def _close_fd(fd: int) -> int:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        return -1

    def _close_fds(self) -> None:
        for name in ("_request_fd", "_answer_fd", "_stdout_fd", "_stderr_fd"):
            setattr(self, name, self._close_fd(getattr(self, name)))
