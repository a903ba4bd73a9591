"""Reading the catalog over the API: who sees what, details, versions and bundles."""

import pytest

pytestmark = pytest.mark.django_db


def test_clients_see_only_approved_skills(client, catalog):
    body = client.get("/api/skills/").json()
    assert [item["slug"] for item in body["items"]] == ["alpha", "beta"]
    assert body["count"] == 2
    assert client.get("/api/skills/?category=data").json()["items"][0]["slug"] == "alpha"
    assert client.get("/api/skills/gamma").status_code == 403


def test_staff_may_list_drafts(staff_client, catalog, client):
    body = staff_client.get("/api/skills/?status=draft").json()
    assert [item["slug"] for item in body["items"]] == ["gamma"]


def test_a_skill_detail_has_its_source_and_versions(client, catalog):
    detail = client.get("/api/skills/alpha").json()
    assert detail["version"] == "1.0.0"
    assert "def run" in detail["current_version"]["source"]
    versions = client.get("/api/skills/alpha/versions").json()["items"]
    assert [v["version"] for v in versions] == ["1.0.0"]
    history = client.get("/api/skills/alpha/history").json()["items"]
    assert [h["action"] for h in history] == ["created"]


def test_export_downloads_visible_skills_as_a_bundle(client, catalog):
    import io
    import zipfile

    response = client.get("/api/skills/export?slug=alpha&slug=beta")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == ["manifest.json", "skills/alpha.py", "skills/beta.py"]
    assert client.get("/api/skills/export?slug=gamma").json() == {
        "detail": "no such skill(s): gamma",
        "errors": [{"field": "slug", "message": "no such skill(s): gamma"}],
    }


def test_a_version_detail_has_its_source_and_metadata(client, catalog):
    response = client.get("/api/skills/alpha/versions/1.0.0")

    body = response.json()
    assert response.status_code == 200
    assert (body["version"], body["filename"], body["entrypoint"]) == ("1.0.0", "a.py", "run")
    assert body["source"].startswith("# /// script\n")
    assert body["metadata"]["category"] == "data"
    assert client.get("/api/skills/alpha/versions/9.9.9").status_code == 404
