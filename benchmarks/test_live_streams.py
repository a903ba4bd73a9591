"""Live progress benchmarks: a real django-q2 cluster carries a run out, a real web server
(uvicorn) serves its websocket, a websocket client measures.

- `websocket_latency_redis` / `websocket_latency_embedded` (≤ 50 ms / ≤ 150 ms p95): from the
  moment a worker wrote a step's state change (the event's `at`, stamped in the transaction of
  the change) to its arrival at the client, over channels-redis with `REDIS_URL`, else over
  the embedded SQLite layer. Chains of trivial steps: three events a step (running, succeeded,
  the next one queued), each timed; one host, one clock.
- `log_stream_1000_per_second` (≤ 1 s p95): a step printing 1,000 lines a second for five
  seconds, each line carrying the time it was printed; for every log batch the client
  receives, the lag is now minus the print time of its last line. Every line must arrive, in
  order; the lag at the end is printed.
"""

import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from websockets.sync.client import connect

from atom_site.keys import api_key_create
from benchmarks.test_workflows import (
    ROOT,
    chain,
    cluster_start,  # noqa: F401 - a fixture, used by `web`
    run_timed,
    workers_warm,
    workflow_of,
)
from skills.catalog.importer import SkillSource, skills_import
from tests.processes import web_server
from workflows.engine import run_start

TALKER = """# /// script
# dependencies = []
#
# [tool.atom]
# name = "bench-talk"
# version = "1.0.0"
# category = "dev"
# type = "utility"
# description = "Prints lines at a steady rate, each with the time it was printed."
# timeout = 120
# ///
import time


def run(lines=5000, per_second=1000):
    started = time.time()
    for index in range(lines):
        pause = started + index / per_second - time.time()
        if pause > 0:
            time.sleep(pause)
        print(f"{time.time():.6f} {index}", flush=True)
    return {"lines": lines}
"""
LINES = 5000


@pytest.fixture
def web(cluster_start, tmp_path):  # noqa: F811 - the fixture imported above
    """The web server on this database and layer (as `cluster_start` gives its cluster)."""
    cluster = cluster_start()
    with web_server(process_env(), tmp_path / "web.log") as host:
        yield cluster, host


def process_env() -> dict[str, str]:
    """As `cluster_start` gives its cluster: this database, layer, data dir and secret."""
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{Path(database['NAME']).resolve()}"
    else:
        url = (f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
               f"{database['PORT'] or 5432}/{database['NAME']}")  # fmt: skip
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL or "",
            "ATOM_DATA_DIR": str(settings.ATOM_DATA_DIR), "SECRET_KEY": settings.SECRET_KEY,
            "ATOM_KEY_PREFIX": settings.ATOM_KEY_PREFIX, "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "atom_site.settings"}  # fmt: skip


def _token() -> str:
    # Staff: the runs are started here, by no user.
    user = get_user_model().objects.create_user(
        "bench-watcher", password="pw-12345678", is_staff=True
    )
    return api_key_create(owner=user, name="bench", scopes=["read"])[1]


def _at(event: dict) -> float:
    return datetime.fromisoformat(event["at"]).timestamp()


def _layer() -> str:
    return "channels-redis" if settings.REDIS_URL else "embedded SQLite layer"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_step_state_change_to_websocket(benchmark, bench_record, note, web):
    cluster, host = web
    token = _token()
    workers_warm(cluster)
    # Steps of 50 ms, as real steps take time: each state change is timed on its own. (A chain
    # of trivial steps writes some 300 events a second, and its figure is noted beside.)
    steps = [{"id": f"s{i}", "skill": "bench-nap", "params": {"seconds": 0.05},
              **({"depends_on": [f"s{i - 1}"]} if i else {})} for i in range(30)]  # fmt: skip
    workflow = workflow_of("bench-live-chain", steps)
    burst = workflow_of("bench-live-burst", chain(40))
    run_timed(workflow, cluster)  # the runners warm for these skills too
    latencies: list[float] = []
    bursting: list[float] = []

    def follow(run, into: list[float]) -> None:
        with connect(f"ws://{host}/ws/runs/{run.pk}/?key={token}", open_timeout=30) as client:
            connected = time.time()
            while True:
                message = json.loads(client.recv(timeout=120))
                if message["type"] == "end":
                    break
                if message["type"] != "event" or message["kind"] != "step":
                    continue
                if _at(message) > connected:  # live, not replayed
                    into.append(time.time() - _at(message))

    def measure() -> None:
        for _ in range(3):
            follow(run_start(workflow, {}), latencies)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    follow(run_start(burst, {}), bursting)
    key = "websocket_latency_redis" if settings.REDIS_URL else "websocket_latency_embedded"
    result = bench_record(key, latencies)
    bursting.sort()
    note(
        f"step state change → websocket ({_layer()}): {len(latencies)} events, median "
        f"{result.median * 1e3:.1f} ms, p95 {result.p95 * 1e3:.1f} ms; in a chain of 40 "
        f"trivial steps, median {bursting[len(bursting) // 2] * 1e3:.1f} ms of {len(bursting)}"
    )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_run_printing_1000_lines_a_second_streams_without_falling_behind(
    benchmark, bench_record, note, web, tmp_path
):
    cluster, host = web
    token = _token()
    path = tmp_path / "bench-talk.py"
    path.write_text(TALKER)
    skills_import(sources=[SkillSource.from_path(path)], approve=True)
    workflow = workflow_of(
        "bench-live-log",
        [{"id": "talk", "skill": "bench-talk", "params": {"lines": LINES, "per_second": 1000}}],
    )
    workers_warm(cluster)
    lags: list[float] = []
    received: list[int] = []

    def measure() -> None:
        run = run_start(workflow, {})
        with connect(f"ws://{host}/ws/runs/{run.pk}/?after=0&key={token}") as client:
            while True:
                message = json.loads(client.recv(timeout=120))
                if message["type"] == "end":
                    break
                if message.get("kind") == "log":
                    received.extend(int(line.split()[1]) for line in message["lines"])
                    lags.append(time.time() - float(message["lines"][-1].split()[0]))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    assert received == list(range(LINES))
    result = bench_record("log_stream_1000_per_second", lags)
    note(
        f"1,000 log lines a second for {LINES / 1000:.0f} s ({_layer()}): {len(lags)} batches, "
        f"lag median {result.median * 1e3:.0f} ms, p95 {result.p95 * 1e3:.0f} ms, at the end "
        f"{lags[-1] * 1e3:.0f} ms"
    )
