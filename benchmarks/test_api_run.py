"""A warm skill run through the API as a client meets it: `POST /api/skills/{slug}/run` over
loopback HTTP to the web server with a Bearer key, timed at the client, less the run's own
wall time (`wall_seconds` in the answer: the runner call, waiting for a runner included).

Target (DESIGN.md): that overhead ≤ 3 ms. What it pays for: the HTTP round trip, the key,
the rate limit, django-ninja, the skill lookup and the run's row, written before and after.
"""

import statistics
import time

import pytest
import requests
from django.contrib.auth import get_user_model

import skills.runtime
from atom_site.keys import api_key_create
from benchmarks.test_live_streams import process_env
from skills.catalog.importer import SkillSource, skills_import
from skills.models import Skill
from skills.runs.calls import run_skill
from tests.processes import web_server

SLUG = "bench-api-noop"
SKILL = (
    "# /// script\n# dependencies = []\n#\n# [tool.atom]\n"
    f'# name = "{SLUG}"\n# version = "1.0.0"\n# category = "dev"\n# type = "utility"\n'
    '# description = "Does nothing, through the API."\n# ///\n'
    "def run():\n    return None\n"
)
WARMUP = 30
ROUNDS = 300  # under the default rate limit of runs per key and minute


def _run(session: requests.Session, url: str) -> tuple[float, float]:
    """(seconds at the client, the run's own wall seconds)."""
    started = time.perf_counter()
    response = session.post(url, json={"params": {}}, timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "succeeded", run
    return elapsed, run["wall_seconds"]


@pytest.mark.target("api_run_over_wall")
@pytest.mark.django_db(transaction=True)
def test_a_warm_run_through_the_api_costs_little_over_the_run(
    benchmark, bench_record, note, tmp_path
):
    skills_import(sources=[SkillSource(f"{SLUG}.py", f"{SLUG}.py", SKILL.encode())], approve=True)
    skill = Skill.objects.select_related("current_version").get(slug=SLUG)
    try:
        run_skill(skill, {}).raise_for_error()  # builds its environment: the API runs it at once
    finally:
        skills.runtime.shutdown()
    owner = get_user_model().objects.create_user("bench-client", password="pw-bench-12345678")
    _, token = api_key_create(owner=owner, name="bench", scopes=["run"])

    timed: list[tuple[float, float]] = []
    with web_server(process_env(), tmp_path / "web.log") as host, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        url = f"http://{host}/api/skills/{SLUG}/run"
        for _ in range(WARMUP):  # the environment, a warm runner, the connection, the caches
            _run(http, url)
        benchmark.pedantic(
            lambda: timed.extend(_run(http, url) for _ in range(ROUNDS)), rounds=1, iterations=1
        )

    overheads = [client - wall for client, wall in timed]
    result = bench_record("api_run_over_wall", overheads)
    note(
        f"warm no-op run over HTTP with a key: {statistics.median(c for c, _ in timed) * 1e3:.2f}"
        f" ms at the client, the run's own wall {statistics.median(w for _, w in timed) * 1e3:.2f}"
        f" ms; overhead median {result.median * 1e3:.2f} ms, p95 {result.p95 * 1e3:.2f} ms"
        " (target ≤ 3 ms)"
    )
