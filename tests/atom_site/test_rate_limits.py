"""Rate limits per key (or per user) on runs, installs and imports: a 429 with Retry-After,
counted in the shared cache, refused before anything is written."""

import itertools
import multiprocessing
import types

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import Client

import atom_site.rate_limits
from atom_site.env import Rate, env_rate
from atom_site.rate_limits import RateLimited, rate_limit
from skills.models import Environment, InstallJob, Skill, SkillRun
from tests.atom_site.conftest import skill_text

# Each test counts in windows of its own (far apart in time), so counts left in the shared
# cache by other tests never reach it.
_windows = itertools.count(1)


@pytest.fixture
def clock(monkeypatch) -> types.SimpleNamespace:
    """The limiter's clock, 15 s into a minute no other test uses."""
    now = types.SimpleNamespace(value=(6_000 + next(_windows)) * 604_800 + 15.0)
    monkeypatch.setattr(
        atom_site.rate_limits, "time", types.SimpleNamespace(time=lambda: now.value)
    )
    return now


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def run_post(client: Client, token: str, slug: str = "shout", **body) -> object:
    return client.post(
        f"/api/skills/{slug}/run",
        {"params": {"text": "hi"}, "queued": True, **body},
        content_type="application/json",
        **bearer(token),
    )


def test_a_run_past_the_limit_is_a_429_with_retry_after_and_nothing_is_written(
    script, token_make, skill_publish, settings, clock
):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "runs": Rate(1, 60)}
    skill_publish()
    token = token_make("run")

    allowed = run_post(script, token)
    refused = run_post(script, token)

    assert allowed.status_code == 202
    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"
    assert refused.json() == {
        "detail": "rate limit of 1 runs per 60 s reached; retry in 45 s",
        "errors": [],
    }
    assert SkillRun.objects.count() == 1
    clock.value += 45  # the next window
    assert run_post(script, token).status_code == 202


@pytest.mark.parametrize(
    ("slug", "body"),
    [("no-such-skill", {}), ("shout", {"params": {"text": 3}}), ("shout", {"version": "9.9"})],
)
def test_a_run_past_the_limit_is_a_429_whatever_else_would_refuse_it(
    script, token_make, skill_publish, settings, clock, slug, body
):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "runs": Rate(1, 60)}
    skill_publish()
    token = token_make("run")
    assert run_post(script, token).status_code == 202

    refused = run_post(script, token, slug=slug, **body)

    # The count travels while the run is prepared; its answer comes first, as if asked first.
    assert refused.status_code == 429
    assert SkillRun.objects.count() == 1


def test_another_key_is_not_affected(script, token_make, user_make, skill_publish, settings, clock):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "runs": Rate(2, 60)}
    skill_publish()
    ana = user_make()
    first, second = token_make("run", owner=ana), token_make("run", owner=ana)

    answers = [run_post(script, first, slug="nope").status_code for _ in range(3)]

    assert answers == [404, 404, 429]  # a refused call counts too: the limit is on asking
    assert run_post(script, second).status_code == 202


def test_an_install_past_the_limit_is_a_429_and_nothing_is_written(
    script, token_make, skill_publish, settings, clock
):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "installs": Rate(1, 60)}
    skill_publish()
    token = token_make("install")
    install = {"content_type": "application/json", **bearer(token)}

    assert script.post("/api/installs/", {"skill": "nope"}, **install).status_code == 404
    single = script.post("/api/installs/", {"skill": "shout"}, **install)
    batch = script.post("/api/installs/batch", {"skills": ["shout"]}, **install)
    retry = script.post("/api/installs/1/retry", **bearer(token))

    assert [single.status_code, batch.status_code, retry.status_code] == [429, 429, 429]
    assert single["Retry-After"] == "45"
    assert (InstallJob.objects.count(), Environment.objects.count()) == (0, 0)


def test_an_import_past_the_limit_is_a_429_and_nothing_is_imported(
    script, token_make, user_make, settings, clock
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "imports": Rate(1, 3600)}
    token = token_make("publish", owner=user_make("root", is_staff=True))

    def upload(name: str):
        source = SimpleUploadedFile(f"{name}.py", skill_text(name).encode())
        return script.post("/api/skills/import", {"files": [source]}, **bearer(token))

    assert upload("first").status_code == 200
    refused = upload("second")

    assert refused.status_code == 429
    assert refused["Retry-After"] == str(3600 - 15)
    assert list(Skill.objects.values_list("slug", flat=True)) == ["first"]


def test_a_session_is_counted_per_user(client, user_make, skill_publish, settings, clock):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "runs": Rate(1, 60)}
    skill_publish()
    client.force_login(user_make())
    other = Client()
    other.force_login(user_make("bea"))
    body = {"params": {"text": "hi"}, "queued": True}

    def post(who: Client) -> int:
        return who.post("/api/skills/shout/run", body, content_type="application/json").status_code

    assert [post(client), post(client), post(other)] == [202, 429, 202]


def test_a_limit_set_off_never_refuses(script, token_make, settings, clock):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "runs": None}
    token = token_make("run")

    assert {run_post(script, token, slug="nope").status_code for _ in range(5)} == {404}


def _calls_allowed_in_a_child(start: object, allowed: object, calls: int) -> None:
    """Run in a forked process: `calls` runs asked by one address, once both processes are in."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "203.0.113.9"
    start.wait(timeout=60)
    count = 0
    for _ in range(calls):
        try:
            rate_limit(request, "runs")
            count += 1
        except RateLimited:
            pass
    allowed.put(count)


# The web processes and the workers of a host are such processes: the fork is the point.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_two_processes_asking_at_once_are_counted_together(settings, clock):
    settings.ATOM_RATE_LIMITS = {**settings.ATOM_RATE_LIMITS, "runs": Rate(60, 60)}
    context = multiprocessing.get_context("fork")
    start, allowed = context.Barrier(2), context.Queue()
    children = [
        context.Process(target=_calls_allowed_in_a_child, args=(start, allowed, 50))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    counts = [allowed.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)

    assert [child.exitcode for child in children] == [0, 0]
    assert sum(counts) == 60  # 100 asked, 60 allowed: not one call lost between them


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("60/minute", Rate(60, 60)),
        ("1000/hour", Rate(1000, 3600)),
        ("5/10s", Rate(5, 10)),
        (" 2 / day ", Rate(2, 86_400)),
        ("off", None),
    ],
)
def test_rates_are_read_from_the_environment(text, rate):
    assert env_rate("ATOM_RATE_LIMIT_RUNS", "1/s", environ={"ATOM_RATE_LIMIT_RUNS": text}) == rate


@pytest.mark.parametrize("text", ["60", "60/fortnight", "0/minute", "ten/minute", "5/0s"])
def test_a_bad_rate_stops_start_up_naming_the_variable(text):
    with pytest.raises(ImproperlyConfigured, match="ATOM_RATE_LIMIT_RUNS"):
        env_rate("ATOM_RATE_LIMIT_RUNS", "1/s", environ={"ATOM_RATE_LIMIT_RUNS": text})
