"""Agents and their skill mappings over the API."""

import pytest

from skills.models import Agent

pytestmark = pytest.mark.django_db


def test_agents_map_and_unmap_skills(staff_client, catalog):
    created = staff_client.post(
        "/api/agents/",
        {"slug": "support-bot", "name": "Support bot", "kind": "bot"},
        content_type="application/json",
    )
    assert created.status_code == 201
    mapped = staff_client.post(
        "/api/agents/support-bot/skills",
        {"add": ["alpha", "beta"]},
        content_type="application/json",
    )
    assert mapped.json()["skills"] == ["alpha", "beta"]
    unmapped = staff_client.post(
        "/api/agents/support-bot/skills", {"remove": ["alpha"]}, content_type="application/json"
    )
    assert unmapped.json()["skills"] == ["beta"]
    missing = staff_client.post(
        "/api/agents/support-bot/skills", {"add": ["nope"]}, content_type="application/json"
    )
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": "no such skill(s): nope",
        "errors": [{"field": "add.0", "message": "no such skill: nope"}],
    }
    assert list(Agent.objects.get().skills.values_list("slug", flat=True)) == ["beta"]


def test_a_bad_agent_slug_is_a_422_naming_the_field(staff_client):
    response = staff_client.post(
        "/api/agents/", {"slug": "Bad Slug", "name": "x"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["slug"]
    assert Agent.objects.count() == 0


def test_an_agent_detail_lists_its_skills(staff_client, catalog):
    staff_client.post(
        "/api/agents/", {"slug": "bot", "name": "Bot"}, content_type="application/json"
    )
    staff_client.post("/api/agents/bot/skills", {"add": ["beta"]}, content_type="application/json")

    assert staff_client.get("/api/agents/bot").json() == {
        "slug": "bot",
        "name": "Bot",
        "kind": "service",
        "description": "",
        "skills": ["beta"],
    }
    assert [a["slug"] for a in staff_client.get("/api/agents/").json()["items"]] == ["bot"]
