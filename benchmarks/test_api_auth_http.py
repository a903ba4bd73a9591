"""What signing in costs as a client meets it: the same GET over loopback HTTP to a real web
server, anonymous and with a Bearer key, paired round by round on one keep-alive connection.

Target (DESIGN.md): an authenticated call's overhead over an anonymous one ≤ 0.3 ms.
`test_api_auth.py` measures it through Django's test client, in one thread; here requests run
in the web's pool of threads (atom_site/http.py), as a client meets them, the keys' generation
read from the shared cache on every call with a key.
"""

import statistics
import time

import pytest
import requests
from django.contrib.auth import get_user_model

from atom_site.keys import api_key_create
from benchmarks.test_api_auth import SKILL
from benchmarks.test_live_streams import process_env
from skills.catalog.importer import SkillSource, skills_import
from tests.processes import web_server

PATH = "/api/skills/shout"
WARMUP = 50
ROUNDS = 500


def _timed(session: requests.Session, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = session.get(url, headers=headers, timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def _paired(session: requests.Session, url: str, key: dict[str, str], rounds: int) -> list:
    """Per round: (anonymous, with the key); the order alternates."""
    pairs = []
    for round_number in range(rounds):
        if round_number % 2:
            plain, keyed = _timed(session, url, {}), _timed(session, url, key)
        else:
            keyed, plain = _timed(session, url, key), _timed(session, url, {})
        pairs.append((plain, keyed))
    return pairs


@pytest.mark.target("api_key_auth_overhead_http")
@pytest.mark.django_db(transaction=True)
def test_an_api_key_costs_little_over_an_anonymous_call_over_http(
    benchmark, bench_record, note, tmp_path
):
    skills_import(sources=[SkillSource("shout.py", "shout.py", SKILL.encode())], approve=True)
    owner = get_user_model().objects.create_user("bench-http", password="pw-bench-12345678")
    _, token = api_key_create(owner=owner, name="bench", scopes=["read"])
    key = {"Authorization": f"Bearer {token}"}

    pairs: list[tuple[float, float]] = []
    with web_server(process_env(), tmp_path / "web.log") as host, requests.Session() as http:
        url = f"http://{host}{PATH}"
        _paired(http, url, key, WARMUP)  # imports, caches, the once-a-minute last_used write
        benchmark.pedantic(
            lambda: pairs.extend(_paired(http, url, key, ROUNDS)), rounds=1, iterations=1
        )

    result = bench_record("api_key_auth_overhead_http", [keyed - plain for plain, keyed in pairs])
    note(
        f"GET {PATH} over HTTP: anonymous {statistics.median(p for p, _ in pairs) * 1e3:.3f} ms,"
        f" with a Bearer key {statistics.median(k for _, k in pairs) * 1e3:.3f} ms; key overhead"
        f" median {result.median * 1e3:.3f} ms, p95 {result.p95 * 1e3:.3f} ms (target ≤ 0.3 ms)"
    )
