"""API keys through real HTTP (Django's test client, CSRF checked as a server checks it)."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atom_site.keys import (
    ApiKeyInvalid,
    api_key_authenticate,
    api_key_check,
    api_key_create,
    api_key_revoke,
    token_parse,
)
from atom_site.models import ApiKey
from skills.models import InstallJob, SkillRun, SkillStatus

pytestmark = pytest.mark.django_db

CHALLENGE = 'Bearer realm="atom"'


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def run_post(client: Client, slug: str = "shout", body: dict | None = None, **headers):
    body = {"params": {"text": "hi"}, "queued": True} if body is None else body
    return client.post(f"/api/skills/{slug}/run", body, content_type="application/json", **headers)


def assert_challenged(response, detail: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json() == {"detail": detail, "errors": []}


# Made once, kept as a digest -----------------------------------------------------------------


def test_a_key_is_shown_once_and_kept_as_its_digest_only(user_make):
    owner = user_make()

    key, token = api_key_create(owner=owner, name="ci", scopes=["run", "read", "run"])

    parsed = token_parse(token)
    stored = ApiKey.objects.get()
    assert token == f"atom_{stored.public_id}_{parsed.secret}"
    assert stored.digest == hashlib.sha256(parsed.secret.encode()).hexdigest()
    assert stored.scopes == ["read", "run"]
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert not any(parsed.secret in str(value) for value in row.values())
    assert api_key_authenticate(token) == key


@pytest.mark.parametrize("is_bound", [True, False])
def test_a_checked_key_carries_what_the_orm_reads_with_its_owner_in_one_query(
    user_make, agent_make, is_bound, django_assert_num_queries, settings
):
    settings.ATOM_API_KEY_CACHE_SECONDS = 0  # the read itself, not the process's copy
    agent = agent_make("helpdesk") if is_bound else None
    expires_at = timezone.now() + timedelta(days=3)
    _, token = api_key_create(
        owner=user_make("ana"), name="ci", scopes=["run"], agent=agent, expires_at=expires_at
    )
    api_key_check(token)  # records the use, once a minute

    with django_assert_num_queries(1):
        checked = api_key_check(token)
        owner = checked.owner
    with django_assert_num_queries(1 if is_bound else 0):  # loaded when a check needs it
        bound = checked.agent

    expected = ApiKey.objects.select_related("owner", "agent").get()
    fields = ApiKey._meta.concrete_fields
    assert [getattr(checked, f.attname) for f in fields] == [
        getattr(expected, f.attname) for f in fields
    ]
    assert checked.expires_at == expires_at
    assert checked.expires_at.tzinfo is not None
    assert checked.scopes == ["run"]
    assert (owner.pk, owner.username, owner.is_active, owner.date_joined) == (
        expected.owner.pk, "ana", True, expected.owner.date_joined,
    )  # fmt: skip
    assert bound == agent
    assert (bound.name if bound else None) == ("Helpdesk" if is_bound else None)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"name": "ci", "scopes": ["run", "fly"]}, "scopes"),
        ({"name": "ci", "scopes": []}, "scopes"),
        ({"name": "  ", "scopes": ["run"]}, "name"),
        ({"name": "ci", "scopes": ["run"], "expires_at": timezone.now()}, "expires_at"),
    ],
)
def test_a_key_asked_for_with_bad_input_is_refused_naming_the_field(user_make, options, field):
    with pytest.raises(ApiKeyInvalid) as refused:
        api_key_create(owner=user_make(), **options)

    assert refused.value.field == field
    assert ApiKey.objects.count() == 0


# Signing in ----------------------------------------------------------------------------------


def test_a_key_signs_in_as_its_owner_as_bearer_and_as_x_api_key(
    script, user_make, token_make, skill_publish
):
    skill_publish()
    token = token_make("run", owner=user_make("ana"))

    by_bearer = run_post(script, **bearer(token))
    by_header = run_post(script, HTTP_X_API_KEY=token)

    assert (by_bearer.status_code, by_header.status_code) == (202, 202)
    assert by_bearer.json()["requested_by"] == by_header.json()["requested_by"] == "ana"
    assert SkillRun.objects.filter(requested_by__username="ana").count() == 2


def test_a_staff_key_sees_what_staff_see_on_the_open_catalog(
    client, user_make, token_make, skill_publish
):
    skill_publish("draft-one", approve=False)
    token = token_make("read", owner=user_make("boss", is_staff=True))

    assert client.get("/api/skills/draft-one").status_code == 403
    assert client.get("/api/skills/draft-one", **bearer(token)).json()["status"] == "draft"


@pytest.mark.parametrize(
    ("spoil", "detail"),
    [
        ("revoke", "this API key is revoked"),
        ("expire", "this API key is expired"),
        ("deactivate", "this API key's owner is deactivated"),
        ("wrong secret", "unknown API key"),
        ("unknown id", "unknown API key"),
        ("malformed", "malformed API key: expected atom_<id>_<secret>"),
    ],
)
def test_a_key_that_cannot_sign_in_is_a_401_with_a_challenge_and_nothing_runs(
    script, token_make, skill_publish, spoil, detail
):
    skill_publish()
    token = token_make("run")
    key = ApiKey.objects.get()
    public_id, secret = token_parse(token).public_id, token_parse(token).secret
    if spoil == "revoke":
        api_key_revoke(key=key)
    elif spoil == "expire":
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "deactivate":
        key.owner.is_active = False
        key.owner.save()
    elif spoil == "wrong secret":
        token = f"atom_{public_id}_{secret[::-1]}"
    elif spoil == "unknown id":
        token = f"atom_{'0' * 12}_{secret}"
    else:
        token = token[:-1]

    assert_challenged(run_post(script, **bearer(token)), detail)
    assert_challenged(run_post(script, HTTP_X_API_KEY=token), detail)
    assert SkillRun.objects.count() == 0


def test_a_post_without_credentials_is_a_401_not_the_csrf_403(script, skill_publish):
    skill_publish("gamma", approve=False)

    response = script.post("/api/skills/gamma/approve")

    assert_challenged(
        response,
        "authentication required: send an API key (Authorization: Bearer <key>, or "
        "X-API-Key), basic auth, or a signed-in session",
    )
    assert script.get("/api/runs/1")["WWW-Authenticate"] == CHALLENGE
    assert run_post(script).status_code == 401
    assert SkillRun.objects.count() == 0


def test_wrong_basic_credentials_are_a_401_not_the_csrf_403(script, user_make, skill_publish):
    import base64

    skill_publish("gamma", approve=False)
    user_make("bot", is_staff=True)
    wrong = base64.b64encode(b"bot:not-the-password").decode()

    response = script.post("/api/skills/gamma/approve", HTTP_AUTHORIZATION=f"Basic {wrong}")

    assert_challenged(response, "wrong username or password")
    assert response.wsgi_request.user.is_anonymous


def test_a_signed_in_session_works_with_its_csrf_token_and_is_refused_without(
    script, user_make, skill_publish
):
    from django.conf import settings
    from django.utils.crypto import get_random_string

    skill_publish("gamma", approve=False)
    script.force_login(user_make("ops", is_staff=True))

    refused = script.post("/api/skills/gamma/approve")
    csrf = get_random_string(32)
    script.cookies[settings.CSRF_COOKIE_NAME] = csrf
    approved = script.post("/api/skills/gamma/approve", HTTP_X_CSRFTOKEN=csrf)

    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "CSRF check Failed", "errors": []},
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"


# Scopes and agents ---------------------------------------------------------------------------


def test_a_key_lacking_the_scope_is_a_403_naming_it_and_nothing_changes(
    script, user_make, token_make, skill_publish
):
    skill_publish()
    skill_publish("gamma", approve=False)
    reader = token_make("read", owner=user_make("ana"))
    runner = token_make("run", "install", owner=user_make("boss", is_staff=True))

    refused_run = run_post(script, **bearer(reader))
    refused_install = script.post(
        "/api/installs/", {"skill": "shout"}, content_type="application/json", **bearer(reader)
    )
    refused_approve = script.post("/api/skills/gamma/approve", **bearer(runner))
    refused_agent = script.post(
        "/api/agents/", {"slug": "bot", "name": "Bot"}, content_type="application/json",
        **bearer(runner),
    )  # fmt: skip

    assert (refused_run.status_code, refused_run.json()) == (
        403,
        {"detail": "this key lacks the 'run' scope", "errors": []},
    )
    assert refused_install.json() == {"detail": "this key lacks the 'install' scope", "errors": []}
    assert refused_approve.json() == {"detail": "this key lacks the 'publish' scope", "errors": []}
    assert refused_agent.json() == {"detail": "this key lacks the 'admin' scope", "errors": []}
    assert SkillRun.objects.count() == 0
    assert InstallJob.objects.count() == 0
    assert script.get("/api/skills/gamma", **bearer(runner)).json()["status"] == "draft"


def test_reading_a_run_with_a_key_needs_the_read_scope(
    script, user_make, token_make, skill_publish
):
    skill_publish()
    ana = user_make("ana")
    run_id = run_post(script, **bearer(token_make("run", owner=ana))).json()["id"]

    refused = script.get(f"/api/runs/{run_id}", **bearer(token_make("run", owner=ana)))
    read = script.get(f"/api/runs/{run_id}", **bearer(token_make("read", owner=ana)))

    assert refused.json() == {"detail": "this key lacks the 'read' scope", "errors": []}
    assert (read.status_code, read.json()["id"]) == (200, run_id)


def test_a_staff_only_action_stays_staff_only_whatever_the_key_may(
    script, user_make, token_make, skill_publish
):
    skill_publish("gamma", approve=False)
    token = token_make("publish", "admin", owner=user_make("ana"))

    response = script.post("/api/skills/gamma/approve", **bearer(token))

    assert (response.status_code, response.json()) == (
        403,
        {"detail": "only staff users may approve skills", "errors": []},
    )
    assert script.get("/api/skills/gamma", **bearer(token)).status_code == 403  # not approved


def test_an_agent_bound_key_is_refused_a_skill_not_mapped_to_its_agent_and_nothing_is_written(
    script, token_make, skill_publish, agent_make
):
    mapped, unmapped = skill_publish("shout"), skill_publish("whisper")
    agent = agent_make("helpdesk", skills=(mapped,))
    token = token_make("run", "install", agent=agent)

    run = run_post(script, unmapped.slug, **bearer(token))
    install = script.post(
        "/api/installs/", {"skill": "whisper"}, content_type="application/json", **bearer(token)
    )
    batch = script.post(
        "/api/installs/batch", {"skills": ["shout", "whisper"]}, content_type="application/json",
        **bearer(token),
    )  # fmt: skip

    detail = {"detail": "this key's agent 'helpdesk' is not mapped to: whisper", "errors": []}
    assert (run.status_code, run.json()) == (403, detail)
    assert (install.status_code, install.json()) == (403, detail)
    assert (batch.status_code, batch.json()) == (403, detail)
    assert SkillRun.objects.count() == 0
    assert InstallJob.objects.count() == 0


def test_an_agent_bound_key_runs_for_its_agent_and_no_other(
    script, token_make, skill_publish, agent_make
):
    skill = skill_publish()
    agent_make("other", skills=(skill,))
    token = token_make("run", "read", agent=agent_make("helpdesk", skills=(skill,)))

    ran = run_post(script, **bearer(token))
    as_other = run_post(
        script, body={"params": {"text": "hi"}, "queued": True, "agent": "other"}, **bearer(token)
    )

    assert (ran.status_code, ran.json()["agent"]) == (202, "helpdesk")
    assert SkillRun.objects.get().agent.slug == "helpdesk"
    assert (as_other.status_code, as_other.json()) == (
        403,
        {"detail": "this key acts for agent 'helpdesk' only", "errors": []},
    )
    assert SkillRun.objects.count() == 1


# What signing in costs -----------------------------------------------------------------------


@pytest.mark.parametrize(("cache_seconds", "more"), [(0, 1), (5, 0)])
def test_a_key_authenticated_get_costs_one_query_more_than_an_anonymous_one_or_none_when_kept(
    client, token_make, skill_publish, django_assert_num_queries, settings, cache_seconds, more
):
    settings.ATOM_API_KEY_CACHE_SECONDS = cache_seconds
    skill_publish()
    token = token_make("read")
    url = "/api/skills/shout"
    assert client.get(url, **bearer(token)).status_code == 200  # records the use, once a minute
    with CaptureQueriesContext(connection) as anonymous:
        assert client.get(url).status_code == 200

    with django_assert_num_queries(len(anonymous) + more):
        response = client.get(url, **bearer(token))

    assert response.status_code == 200


def test_a_key_this_process_keeps_is_refused_at_once_when_revoked(
    script, token_make, skill_publish, django_capture_on_commit_callbacks
):
    skill_publish()
    token = token_make("run")
    assert run_post(script, **bearer(token)).status_code in (200, 202)  # read, and kept

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(key=ApiKey.objects.get())

    assert_challenged(run_post(script, **bearer(token)), "this API key is revoked")
    assert SkillRun.objects.count() == 1


def test_a_key_changed_in_the_admin_is_read_afresh(
    admin_client, script, token_make, skill_publish, django_capture_on_commit_callbacks
):
    skill_publish()
    token = token_make("run", "read")
    key = ApiKey.objects.get()
    assert run_post(script, **bearer(token)).status_code in (200, 202)

    with django_capture_on_commit_callbacks(execute=True):
        changed = admin_client.post(
            f"/admin/atom_site/apikey/{key.pk}/change/",
            {"name": key.name, "scopes": ["read"], "expires_at": ""},
        )

    assert changed.status_code == 302
    refused = run_post(script, **bearer(token))
    assert refused.status_code == 403
    assert "run" in refused.json()["detail"]
    assert SkillRun.objects.count() == 1


def test_a_key_s_last_use_is_written_at_most_once_a_minute(
    client, token_make, skill_publish, settings
):
    settings.ATOM_API_KEY_CACHE_SECONDS = 0  # the row is moved an hour back behind its copy
    skill_publish()
    token = token_make("read")
    key = ApiKey.objects.get()
    assert key.last_used_at is None

    client.get("/api/skills/shout", **bearer(token))
    first = ApiKey.objects.get().last_used_at
    client.get("/api/skills/shout", **bearer(token))
    unchanged = ApiKey.objects.get().last_used_at
    an_hour_ago = timezone.now() - timedelta(hours=1)
    ApiKey.objects.update(last_used_at=an_hour_ago)
    client.get("/api/skills/shout", **bearer(token))

    assert first is not None
    assert unchanged == first
    assert ApiKey.objects.get().last_used_at > an_hour_ago + timedelta(minutes=59)


def test_an_approved_skill_is_open_to_anonymous_readers_still(client, skill_publish):
    skill_publish()

    response = client.get("/api/skills/shout")

    assert (response.status_code, response.json()["status"]) == (200, SkillStatus.APPROVED)


def test_changing_a_perf_budget_with_a_key_needs_the_admin_scope(script, user_make, token_make):
    from perf.models import Budget

    boss = user_make("boss", is_staff=True)
    before = list(Budget.objects.values_list("operation", "seconds"))

    def budget_put(token: str):
        return script.put(
            "/api/perf/budgets/skill_load", {"seconds": 9}, content_type="application/json",
            **bearer(token),
        )  # fmt: skip

    refused = budget_put(token_make("read", "run", owner=boss))

    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "this key lacks the 'admin' scope", "errors": []},
    )
    assert list(Budget.objects.values_list("operation", "seconds")) == before
    assert budget_put(token_make("admin", owner=boss, name="ops")).json()["seconds"] == 9
