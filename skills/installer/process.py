"""Running the installers' programs: argument lists only (never a shell string), output streamed
line by line into the job's log as it happens, a deadline, and a clean environment."""

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from atom_site.lifetimes import parent_death_signal

LogWriter = Callable[[str], None]

# The only variables of the caller's environment an installer program (uv, pip, npm, node, the
# verifying interpreters) sees: what it needs to find programs, keep its caches and reach the
# network through the host's proxies and certificates. Everything else is Atom's choice: the
# caller's colour (FORCE_COLOR made uv write escape codes into a lock Atom then kept), locale,
# PYTHONPATH / VIRTUAL_ENV (Atom's own packages), and every PIP_*, UV_*, npm_config_* (a user's
# UV_INDEX_URL would install from an index the supply-chain settings never named).
INHERITED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
)
FIXED = {
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "NO_COLOR": "1",
    "TERM": "dumb",
}


@functools.cache
def _setpriv() -> str | None:
    """util-linux's `setpriv`, when it can set the parent-death signal (2.33 and later)."""
    path = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if path is None:
        return None
    probe = subprocess.run([path, "--pdeathsig", "KILL", "--", "true"], capture_output=True)
    return path if probe.returncode == 0 else None


def dying_with_parent(args: list[str]) -> tuple[list[str], Callable[[], None] | None]:
    """`args` made to die with this process: the arguments to run and the `preexec_fn`.

    Through `setpriv --pdeathsig KILL`, which sets the signal and execs, the child runs no
    Python between fork and exec, so `subprocess` spawns it with vfork: a `preexec_fn` makes
    it fork, copying this process's page tables at every spawn, with the GIL held. Without
    setpriv, a `preexec_fn` sets it. Either way a builder killed half-way leaves no uv or npm
    running, still writing into a temporary directory the next builder has already cleaned.
    """
    setpriv = _setpriv()
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *args], None
    return args, parent_death_signal(signal.SIGKILL)


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    output: str  # stderr, or stdout and stderr together when they were merged
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def process_is_gone(pid: int | None) -> bool:
    """Whether no process with this pid exists on this host (one we may not signal exists)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def holder_is_dead(*, host: str, pid: int | None, heartbeat_at: datetime | None) -> bool:
    """Whether the builder named as a claim's holder is gone, so the claim may be taken over:
    its heartbeat is stale (any host), or it ran on this host and its process no longer exists.
    """
    stale = heartbeat_at is not None and heartbeat_at < timezone.now() - timedelta(
        seconds=settings.ATOM_INSTALL_STALE_SECONDS
    )
    return stale or (host == socket.gethostname() and process_is_gone(pid))


def child_environment(
    extra: Mapping[str, str] | None = None, *, caller: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of an installer program: `INHERITED` taken from the caller's
    (`os.environ` unless given), `FIXED`, then `extra` (what Atom's settings choose)."""
    source = os.environ if caller is None else caller
    env = {name: source[name] for name in INHERITED if name in source}
    env.update(FIXED)
    env.update(extra or {})
    return env


def run_logged(
    args: list[str],
    *,
    log: LogWriter,
    env: Mapping[str, str],
    timeout: float,
    cwd: Path | None = None,
    stdin: str | None = None,
    capture_stdout: bool = False,
) -> Completed:
    """Run `args`, writing each line of its output to `log` as it comes.

    With `capture_stdout`, stdout is kept apart (a lockfile printed by the resolver) and only
    stderr is logged; otherwise both go to the log. The process is killed at the deadline.
    """
    started = time.perf_counter()
    log("$ " + " ".join(str(arg) for arg in args))
    command, preexec_fn = dying_with_parent([str(arg) for arg in args])
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stdout else subprocess.STDOUT,
        cwd=cwd,
        env=dict(env),
        text=True,
        errors="replace",
        preexec_fn=preexec_fn,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines: list[str] = []
    stdout_parts: list[str] = []
    try:
        if capture_stdout:
            reader = threading.Thread(
                target=lambda: stdout_parts.append(process.stdout.read()), daemon=True
            )
            reader.start()
            stream = process.stderr
        else:
            stream = process.stdout
        if stdin is not None:
            process.stdin.write(stdin)
            process.stdin.close()
        for line in stream:
            line = line.rstrip("\n")
            lines.append(line)
            log(line)
        returncode = process.wait()
        if capture_stdout:
            reader.join()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    seconds = time.perf_counter() - started
    if returncode < 0 and seconds >= timeout:
        lines.append(f"killed after the {timeout:g} s install timeout")
        log(lines[-1])
    return Completed(returncode, "".join(stdout_parts), "\n".join(lines), seconds)
