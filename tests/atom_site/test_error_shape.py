"""Every 4xx of the API answers one shape: {"detail": "<one line>", "errors": [...]}."""

import pytest
from django.test import Client

from skills.models import Agent, SkillRun

SHAPE = {"detail", "errors"}


def assert_shaped(response, status: int, fields: list[str] | None = None) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert SHAPE <= set(body)
    assert isinstance(body["detail"], str)
    assert "\n" not in body["detail"]
    assert all(set(error) >= {"field", "message"} for error in body["errors"])
    if fields is not None:
        assert [error["field"] for error in body["errors"]] == fields
    return body


@pytest.fixture
def staff(user_make) -> Client:
    client = Client()
    client.force_login(user_make("root", is_staff=True))
    return client


def test_ninjas_validation_errors_name_each_dotted_field(staff):
    response = staff.post(
        "/api/agents/", {"slug": "Bad Slug", "name": ""}, content_type="application/json"
    )

    body = assert_shaped(response, 422, ["slug", "name"])
    assert body["detail"].startswith("invalid input: slug: String should match pattern")
    assert body["detail"].endswith("(and 1 more)")
    assert Agent.objects.count() == 0


def test_a_nested_body_field_is_dotted_as_the_client_wrote_it(script, token_make, skill_publish):
    skill_publish()
    token = token_make("install")

    response = script.post(
        "/api/installs/batch",
        {"skills": ["shout", 3]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert_shaped(response, 422, ["skills.1"])


def test_malformed_json_is_a_422_naming_the_body_and_nothing_runs(
    script, token_make, skill_publish
):
    skill_publish()
    token = token_make("run")

    response = script.post(
        "/api/skills/shout/run",
        b'{"params": {"text": ',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    body = assert_shaped(response, 422, ["body"])
    assert body["detail"].startswith("the body is not JSON")
    assert SkillRun.objects.count() == 0


def test_a_query_parameter_of_the_wrong_type_is_named(client, db):
    assert_shaped(client.get("/api/perf/samples", {"ok": "perhaps"}), 422, ["ok"])


def test_permission_denied_is_a_403_in_the_shape(client, db):
    body = assert_shaped(client.get("/api/skills/", {"status": "draft"}), 403, [])
    assert body["detail"] == "only staff users may list skills that are not approved"


def test_an_unknown_slug_is_a_404_naming_it(client, db):
    body = assert_shaped(client.get("/api/skills/nope"), 404, ["slug"])
    assert body["detail"] == "no such skill: nope"
    assert_shaped(client.get("/api/installs/99999"), 404, ["job_id"])
    assert_shaped(client.get("/api/environments/nope"), 404, ["key"])


def test_no_credentials_is_a_401_in_the_shape_with_a_challenge(script, db):
    response = script.post("/api/installs/", {"skill": "x"}, content_type="application/json")

    assert_shaped(response, 401, [])
    assert response["WWW-Authenticate"] == 'Bearer realm="atom"'


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_path_is_a_json_404_even_with_debug_on(client, settings, db, debug):
    settings.DEBUG = debug

    body = assert_shaped(client.get("/api/no/such/thing"), 404, [])
    assert body["detail"] == "no such API path: /api/no/such/thing"
    assert_shaped(client.post("/api/no/such/thing", {}), 404, [])
    hint = assert_shaped(client.get("/api/agents"), 404)["detail"]
    assert hint == "no such API path: /api/agents (did you mean /api/agents/ ?)"


@pytest.mark.parametrize("debug", [True, False])
def test_a_wrong_method_is_a_json_405_with_allow(client, settings, db, debug):
    settings.DEBUG = debug

    response = client.delete("/api/skills/nope")

    body = assert_shaped(response, 405, [])
    assert response["Allow"] == "GET"
    assert body["detail"] == "method DELETE is not allowed here; allowed: GET"


def test_a_wrong_method_on_an_async_operation_is_a_json_405(client, db):
    response = client.post("/api/health")

    assert_shaped(response, 405, [])
    assert response["Allow"] == "GET"


def test_an_explicit_refusal_answers_the_shape(staff, skill_publish):
    skill_publish("shout", approve=False)
    staff.post("/api/skills/shout/approve")

    body = assert_shaped(staff.post("/api/skills/shout/approve"), 409, [])
    assert "approved" in body["detail"]
