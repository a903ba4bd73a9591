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


def qcluster_stop(process: subprocess.Popen) -> None:
    # SIGTERM to the cluster alone: it stops its sentinel and workers in order (a signal to the
    # whole group can catch a child holding a shared lock, and the cluster then waits forever).
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left of the group: runners


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def daphne(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`daphne atom_site.asgi:application` on a free loopback port with `env`, its output in
    `log_path`; yields its `host:port` once `/api/health` answers."""
    port = free_port()
    with log_path.open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["atom_site.asgi:application"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"daphne exited: {log_path.read_text()[-2000:]}")
                with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                    requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not answer: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
