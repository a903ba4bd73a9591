"""Atom's worker cluster as a real process, for tests that need django-q2 to carry work out."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
