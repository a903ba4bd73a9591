"""The server side of the load test: Atom started as `make up` starts it (`manage.py up`: uvicorn
and a django-q2 cluster) on a loopback port, an API key, the mix's environments installed, the
memory of every process of the stack, and the stack stopped whatever happens."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from django.conf import settings

HOST = "127.0.0.1"  # loopback only: the load test never sends a request off this host
START_TIMEOUT = 180.0
WARM_INSTALL_TIMEOUT = 600.0
MIX_SKILLS = ("change-case", "slugify-text", "word-count")


class LoadTestError(RuntimeError):
    pass


@dataclass
class Stack:
    popen: subprocess.Popen
    base_url: str
    env: Mapping[str, str]

    def stop(self) -> None:
        """SIGTERM to `up`, which stops web and workers in order; then its whole tree, killed."""
        tree = self.processes()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def stack_start(*, port: int, env: Mapping[str, str], log: Path) -> Stack:
    """`manage.py up` on `port`, without the demo's file watcher; returns once health is green
    (the database, the migrations, the broker, a live cluster, the channel layer)."""
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    with log.open("ab") as output:
        popen = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, manage, "up", "--host", HOST, "--port", str(port), "--no-watcher"],
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(popen=popen, base_url=f"http://{HOST}:{port}", env=env)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise LoadTestError(f"`manage.py up` exited with code {popen.returncode}; see {log}")
        try:
            if httpx.get(f"{stack.base_url}/api/health", timeout=5).status_code == 200:
                return stack
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stack.stop()
    raise LoadTestError(f"Atom was not healthy within {START_TIMEOUT:g} s; see {log}")


def api_key_create(*, env: Mapping[str, str], username: str) -> str:
    """A key for the admin with the scopes the mix needs, made with `manage.py keys create`."""
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, manage, "keys", "create", "--user", username, "--name",
         f"loadtest-{os.getpid()}-{time.time_ns()}", "--scope", "read,run,install"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise LoadTestError(f"`manage.py keys create` failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def environments_warm(*, base_url: str, token: str) -> None:
    """Install the mix's skills once, so that every install the load asks for is a cache hit."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for slug in MIX_SKILLS:
            answer = client.post("/api/installs/", json={"skill": slug})
            if answer.status_code not in (200, 202):
                raise LoadTestError(f"installing {slug}: {answer.status_code} {answer.text}")
            job = answer.json()
            deadline = time.monotonic() + WARM_INSTALL_TIMEOUT
            while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
                time.sleep(0.5)
                job = client.get(f"/api/installs/{job['id']}").json()
            if job["status"] != "succeeded":
                raise LoadTestError(f"installing {slug}: {job['status']}: {job.get('error')}")


def workflow_runs_unfinished(
    *, base_url: str, token: str, run_ids: list[int], timeout: float
) -> dict[str, int]:
    """Wait for the runs the load started to end; their count by final (or last) status."""
    headers = {"Authorization": f"Bearer {token}"}
    pending = set(run_ids)
    statuses: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        while pending and time.monotonic() < deadline:
            for run_id in sorted(pending):
                status = client.get(f"/api/workflow-runs/{run_id}").json()["status"]
                statuses[run_id] = status
                if status in ("succeeded", "failed", "cancelled", "timed_out"):
                    pending.discard(run_id)
            if pending:
                time.sleep(1)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    role: str
    rss: int


def process_role(process: psutil.Process) -> str:
    """What a process of the stack is, from its command line."""
    words = " ".join(process.cmdline())
    for marker, role in (
        ("uvicorn", "web (uvicorn)"),
        ("qcluster", "django-q2"),
        (" up ", "manage.py up"),
        ("runner", "runner"),
        ("verifier", "verifier"),
    ):
        if marker in f" {words} ":
            return role
    return process.name()


def memory_sample(stack: Stack) -> dict[int, ProcessMemory]:
    sample = {}
    for process in stack.processes():
        try:
            sample[process.pid] = ProcessMemory(
                process.pid, process_role(process), process.memory_info().rss
            )
        except psutil.NoSuchProcess:
            continue
    return sample
