"""What signing in costs: the same GET through the whole stack (Django's test client: every
middleware, django-ninja, the view), anonymous and with a Bearer key, paired round by round.

Target (DESIGN.md): an authenticated call's overhead over an anonymous one ≤ 0.3 ms. Beside
it, basic auth: its first call pays the password hash (PBKDF2, the real hasher here), later
ones are served from the cache of verified passwords (atom_site/auth.py).
"""

import base64
import statistics
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from atom_site.auth import verified_passwords
from atom_site.keys import api_key_create
from skills.catalog.importer import SkillSource, skills_import

URL = "/api/skills/shout"
ROUNDS = 2_000
SKILL = (
    "# /// script\n"
    "# dependencies = []\n"
    "#\n"
    "# [tool.atom]\n"
    '# name = "shout"\n'
    '# version = "1.0.0"\n'
    '# category = "text"\n'
    '# type = "transform"\n'
    '# description = "Upper-case the text it is given."\n'
    "# ///\n"
    "def run(text: str = '') -> str:\n"
    "    return text.upper()\n"
)


def _timed(client: Client, **headers) -> float:
    started = time.perf_counter()
    response = client.get(URL, **headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content
    return elapsed


def _overheads(client: Client, headers: dict[str, str], rounds: int) -> tuple[list, list, list]:
    """Per round: anonymous, signed in, and the difference (the order alternates)."""
    anonymous, signed_in, overheads = [], [], []
    for round_number in range(rounds):
        if round_number % 2:
            plain, keyed = _timed(client), _timed(client, **headers)
        else:
            keyed, plain = _timed(client, **headers), _timed(client)
        anonymous.append(plain)
        signed_in.append(keyed)
        overheads.append(keyed - plain)
    return anonymous, signed_in, overheads


@pytest.mark.django_db
def test_an_api_key_costs_little_over_an_anonymous_call(benchmark, bench_record, note):
    skills_import(sources=[SkillSource("shout.py", "shout.py", SKILL.encode())], approve=True)
    owner = get_user_model().objects.create_user("bench", password="pw-bench-12345678")
    _, token = api_key_create(owner=owner, name="bench", scopes=["read"])
    client = Client()
    key = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    _overheads(client, key, 100)  # warm: imports, caches, the once-a-minute last_used write

    measured: list[tuple[list, list, list]] = []
    benchmark.pedantic(
        lambda: measured.append(_overheads(client, key, ROUNDS)), rounds=1, iterations=1
    )
    anonymous, signed_in, overheads = measured[0]
    result = bench_record("api_key_auth_overhead", overheads)

    pair = base64.b64encode(b"bench:pw-bench-12345678").decode()
    basic = {"HTTP_AUTHORIZATION": f"Basic {pair}"}
    first_basic = []
    for _ in range(3):
        verified_passwords.clear()
        first_basic.append(_timed(client, **basic) - _timed(client))
    basic_overheads = _overheads(client, basic, ROUNDS // 4)[2]

    note(
        f"GET {URL}: anonymous {statistics.median(anonymous) * 1e3:.3f} ms, with a Bearer key "
        f"{statistics.median(signed_in) * 1e3:.3f} ms; key overhead median "
        f"{result.median * 1e3:.3f} ms, p95 {result.p95 * 1e3:.3f} ms (target ≤ 0.3 ms)"
    )
    note(
        f"basic auth: first call +{statistics.median(first_basic) * 1e3:.0f} ms (PBKDF2), "
        f"then +{statistics.median(basic_overheads) * 1e3:.3f} ms median (verified-password cache)"
    )
