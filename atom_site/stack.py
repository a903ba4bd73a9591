"""Start, watch and stop the processes of one Atom host (what `make up` runs).

Each process starts in its own session, so a Ctrl-C in the terminal reaches only the
supervisor, which then stops every process group it started — workers that a child forked
included — and leaves none behind.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from atom_site.lifetimes import parent_death_signal

STOP_GRACE_SECONDS = 10.0
# How long the web server lets open connections (a followed run's websocket) finish on SIGTERM.
WEB_SHUTDOWN_GRACE_SECONDS = 5
# How long an idle keep-alive connection stays open. Longer than clients keep theirs (httpx:
# 5 s, uvicorn's own default too): a server closing at the moment a client reuses the
# connection fails that request (the client reads a reset), as nginx's 75 s avoids.
WEB_KEEP_ALIVE_SECONDS = 75


class PortTakenError(Exception):
    pass


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


def port_check_free(host: str, port: int) -> None:
    """Raise PortTakenError when nothing could listen on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortTakenError(
                f"port {port} on {host} is taken ({error.strerror}); "
                "stop what uses it or choose another with PORT=…"
            ) from None


def stack_processes(*, host: str, port: int, with_watcher: bool) -> list[ManagedProcess]:
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    python = sys.executable
    processes = [
        ManagedProcess("web", web_server_argv(host=host, port=port)),
        ManagedProcess("worker", [python, manage, "qcluster"]),
    ]
    if with_watcher:
        processes.append(ManagedProcess("watcher", [python, manage, "skills", "watch"]))
    return processes


def web_server_argv(*, host: str, port: int) -> list[str]:
    """uvicorn serving the ASGI app (HTTP and websockets) on host:port, as `make up` runs it:
    uvloop's event loop, httptools' HTTP parser, the `websockets` library's sans-I/O protocol
    (docs/decisions.md, "uvicorn serves HTTP and websockets"). Channels' router has no
    lifespan protocol, so uvicorn is told not to try it."""
    argv = [sys.executable, "-m", "uvicorn", "atom_site.asgi:application"]
    argv += ["--host", host, "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    argv += ["--ws", "websockets-sansio", "--lifespan", "off"]
    argv += ["--timeout-keep-alive", str(WEB_KEEP_ALIVE_SECONDS)]
    argv += ["--timeout-graceful-shutdown", str(WEB_SHUTDOWN_GRACE_SECONDS)]
    return argv


def processes_start(processes: list[ManagedProcess]) -> None:
    """Each in its own session, and sent SIGTERM if the supervisor dies without stopping them
    (killed with SIGKILL, say), so that they stop as they would on Ctrl-C."""
    for process in processes:
        process.popen = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            process.argv,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            preexec_fn=parent_death_signal(signal.SIGTERM),
        )


def processes_stop(processes: list[ManagedProcess], grace: float = STOP_GRACE_SECONDS) -> None:
    """Ask each process to stop, then kill its whole process group after the grace period."""
    for process in processes:
        if process.is_running:
            _signal_quietly(process.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        if process.popen is None:
            continue
        try:
            process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in processes:
        if process.popen is not None:
            _kill_group(process.popen.pid)
            process.popen.wait()


def first_exited(processes: list[ManagedProcess]) -> ManagedProcess | None:
    for process in processes:
        if process.popen is not None and process.popen.poll() is not None:
            return process
    return None


def health_wait(url: str, *, timeout: float, stop: Callable[[], bool]) -> dict | None:
    """Poll the health endpoint until it is green; return the last answer (None if none)."""
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline and not stop():
        answer = health_fetch(url)
        if answer is not None and answer.get("status") == "ok":
            return answer
        time.sleep(0.25)
    return answer


def health_fetch(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own URL
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)
    except (OSError, ValueError):
        return None


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
