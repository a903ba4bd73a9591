"""Atom's worker cluster and web server as real processes, for tests and benchmarks that need
django-q2 to carry work out or a client to reach Atom over HTTP and websockets."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from atom_site.stack import web_server_argv

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def qcluster(env: dict[str, str], **extra: str) -> Iterator[subprocess.Popen]:
    """`manage.py qcluster` in a session of its own (its workers fork and start runners, so the
    whole group is stopped afterwards), with `env` and the `extra` variables."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        env={**env, **extra},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        qcluster_stop(process)


def process_stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL when it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def qcluster_stop(process: subprocess.Popen) -> None:
    # SIGTERM to the cluster alone: it stops its sentinel and workers in order (a signal to the
    # whole group can catch a child holding a shared lock, and the cluster then waits forever).
    process_stop(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left of the group: runners


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def web_server(env: dict[str, str], log_path: Path, *, timeout: float = 90) -> Iterator[str]:
    """Atom's web server (uvicorn, as `make up` runs it: HTTP and websockets) on a free loopback
    port with `env`, its output in `log_path`; yields its `host:port` once it answers. A port
    taken between choosing it and the server listening on it is chosen again."""
    for _ in range(3):
        process, host = _web_server_start(env, log_path)
        try:
            if _web_server_answers(host, process, log_path, timeout=timeout):
                break
        except BaseException:
            process_stop(process)
            raise
        process_stop(process)
    else:
        raise RuntimeError(f"the web server did not start: {log_path.read_text()[-3000:]}")
    try:
        yield host
    finally:
        process_stop(process)


def _web_server_start(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # A file, not a pipe: the server logs every request, and a full pipe would stall it.
    with log_path.open("w") as log:
        process = subprocess.Popen(
            web_server_argv(host="127.0.0.1", port=port),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, f"127.0.0.1:{port}"


def _web_server_answers(
    host: str, process: subprocess.Popen, log_path: Path, *, timeout: float
) -> bool:
    """Whether the server answers (its icon, which needs no database); False when it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            requests.get(f"http://{host}/favicon.ico", timeout=10)
        except requests.RequestException:
            time.sleep(0.2)
            continue
        return True
    raise TimeoutError(
        f"the web server did not answer within {timeout} s: {log_path.read_text()[-2000:]}"
    )
