"""`make loadtest`: Atom's real stack under concurrent clients, on loopback, for a bounded time.

`load_test_run` starts the stack (`stack.py`), warms it, drives the mix (`drive.py`) with
memory sampled before and after, waits for the workflow runs it started, and stops the stack;
`report.py` prints what it measured.
"""

import asyncio
import secrets
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from atom_site.loadtest.drive import Tally, load_drive
from atom_site.loadtest.stack import (
    ProcessMemory,
    api_key_create,
    environments_warm,
    memory_sample,
    stack_start,
    workflow_runs_unfinished,
)

# The load test measures throughput and latency, not the limits (tests/atom_site/
# test_rate_limits.py proves those): its stack gets limits far above what the mix can send.
RATE_LIMIT_FOR_LOAD = "1000000/minute"
RATE_LIMITED_BUCKETS = ("RUNS", "INSTALLS", "IMPORTS", "WORKFLOW_STARTS")
RUNS_DRAIN_TIMEOUT = 300.0


@dataclass(frozen=True)
class LoadTestResult:
    clients: int
    seconds: float
    workers: int
    tally: Tally
    memory_start: dict[int, ProcessMemory]
    memory_end: dict[int, ProcessMemory]
    runs_by_status: dict[str, int]

    @property
    def memory_growth(self) -> float:
        """Growth of the resident memory of the processes alive at both samples, a fraction."""
        kept = self.memory_start.keys() & self.memory_end.keys()
        before = sum(self.memory_start[pid].rss for pid in kept)
        after = sum(self.memory_end[pid].rss for pid in kept)
        return (after - before) / before if before else 0.0

    @property
    def runs_not_succeeded(self) -> int:
        return sum(count for status, count in self.runs_by_status.items() if status != "succeeded")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stack_environment(*, base: dict[str, str], workers: int) -> dict[str, str]:
    env = {
        **base,
        "ATOM_Q_WORKERS": str(workers),
        "ATOM_ADMIN_PASSWORD": secrets.token_urlsafe(24),  # `up` prints no generated one
    }
    for bucket in RATE_LIMITED_BUCKETS:
        env[f"ATOM_RATE_LIMIT_{bucket}"] = RATE_LIMIT_FOR_LOAD
    return env


WARMUP_SECONDS = 5.0
# A soak judges memory growth: on SQLite the web threads' page caches fill during the first
# minute and a half of load, which is not growth to judge (docs/reliability.md).
SOAK_WARMUP_SECONDS = 120.0


def warmup_seconds(asked: float | None, *, soak: bool) -> float:
    if asked is not None:
        return asked
    return SOAK_WARMUP_SECONDS if soak else WARMUP_SECONDS


def load_test_run(
    *,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    workers: int,
    base_env: dict[str, str],
    say: Callable[[str], None],
) -> LoadTestResult:
    env = stack_environment(base=base_env, workers=workers)
    log = Path(tempfile.mkstemp(prefix="atom-loadtest-", suffix=".log")[1])
    say(f"Starting Atom (`manage.py up`, {workers} workers) on loopback; its output: {log}")
    say(f"Rate limits of this stack: {RATE_LIMIT_FOR_LOAD} for each ATOM_RATE_LIMIT_* bucket.")
    stack = stack_start(port=free_port(), env=env, log=log)
    try:
        token = api_key_create(env=env, username=settings.ATOM_ADMIN_USERNAME)
        say("Installing the mix's skills once (the load's installs are cache hits)…")
        environments_warm(base_url=stack.base_url, token=token)
        if warmup_seconds > 0:
            say(f"Warming up: {clients} clients for {warmup_seconds:g} s…")
            warm = asyncio.run(
                load_drive(
                    base_url=stack.base_url, token=token, clients=clients, seconds=warmup_seconds
                )
            )
            workflow_runs_unfinished(
                base_url=stack.base_url,
                token=token,
                run_ids=warm.run_ids,
                timeout=RUNS_DRAIN_TIMEOUT,
            )
        memory_start = memory_sample(stack)
        say(f"Driving {clients} clients for {seconds:g} s…")
        tally = asyncio.run(
            load_drive(base_url=stack.base_url, token=token, clients=clients, seconds=seconds)
        )
        say(f"Waiting for the {len(tally.run_ids)} workflow runs it started…")
        runs_by_status = workflow_runs_unfinished(
            base_url=stack.base_url, token=token, run_ids=tally.run_ids, timeout=RUNS_DRAIN_TIMEOUT
        )
        memory_end = memory_sample(stack)
    finally:
        stack.stop()
    return LoadTestResult(
        clients=clients,
        seconds=seconds,
        workers=workers,
        tally=tally,
        memory_start=memory_start,
        memory_end=memory_end,
        runs_by_status=runs_by_status,
    )
