import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from skills.importer import skills_import, sources_from_paths
from skills.models import Agent, Skill, SkillHistory, SkillStatus
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("staff", password="pw-12345678", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("someone", password="pw-12345678")
    client.force_login(user)
    return client


@pytest.fixture
def catalog(write_skill):
    write_skill("a.py", name="alpha", category="data")
    write_skill("b.py", name="beta", category="text")
    sources, _ = sources_from_paths([write_skill("c.py", name="gamma").parent])
    skills_import(sources=sources)
    Skill.objects.filter(slug__in=["alpha", "beta"]).update(status=SkillStatus.APPROVED)


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/x-python")


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
    versions = client.get("/api/skills/alpha/versions").json()
    assert [v["version"] for v in versions] == ["1.0.0"]
    history = client.get("/api/skills/alpha/history").json()["items"]
    assert [h["action"] for h in history] == ["created"]


def test_staff_import_files_through_the_api(staff_client):
    response = staff_client.post(
        "/api/skills/import",
        {
            "files": [
                upload("one.py", skill_source(name="one")),
                upload("two.py", skill_source(name="two")),
            ]
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == ["one", "two"]
    assert Skill.objects.count() == 2


def test_an_invalid_import_is_a_422_naming_file_and_field_and_writes_nothing(staff_client):
    response = staff_client.post(
        "/api/skills/import",
        {
            "files": [
                upload("ok.py", skill_source(name="ok")),
                upload("bad.py", skill_source(version="x")),
            ]
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "file": "bad.py",
            "line": 7,
            "field": "tool.atom.version",
            "message": "'x' is not a PEP 440 version",
            "rule": "",
        }
    ]
    assert Skill.objects.count() == 0


def test_a_bad_bundle_is_a_422(staff_client):
    bundle = SimpleUploadedFile("b.zip", b"PK not really", content_type="application/zip")
    response = staff_client.post("/api/skills/import", {"files": [bundle]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "bundle"


def test_a_user_who_is_not_staff_cannot_import(user_client):
    response = user_client.post("/api/skills/import", {"files": [upload("one.py", skill_source())]})
    assert response.status_code == 403
    assert Skill.objects.count() == 0


def test_approving_needs_staff_and_records_who(user_client, catalog):
    assert user_client.post("/api/skills/gamma/approve").status_code == 403
    assert Skill.objects.get(slug="gamma").status == SkillStatus.DRAFT
    assert not SkillHistory.objects.filter(action="approved").exists()


def test_staff_approve_then_deprecate(staff_client, catalog):
    approved = staff_client.post("/api/skills/gamma/approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert staff_client.post("/api/skills/gamma/approve").status_code == 409
    assert staff_client.post("/api/skills/gamma/deprecate").json()["status"] == "deprecated"
    skill = Skill.objects.get(slug="gamma")
    assert skill.approved_by.username == "staff"
    assert list(skill.history.values_list("action", flat=True)) == [
        "deprecated",
        "approved",
        "created",
    ]


def test_basic_auth_works_for_api_clients(catalog):
    get_user_model().objects.create_user("bot", password="pw-12345678", is_staff=True)
    import base64

    # A script has no CSRF token: check CSRF as a real server does (the test client does not).
    client = Client(enforce_csrf_checks=True)
    token = base64.b64encode(b"bot:pw-12345678").decode()
    response = client.post("/api/skills/gamma/approve", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200


def test_a_session_post_without_its_csrf_token_is_refused(catalog):
    user = get_user_model().objects.create_user("ops", password="pw-12345678", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/api/skills/gamma/approve")

    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF check Failed"}
    assert Skill.objects.get(slug="gamma").status == "draft"


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
    assert missing.json() == {"detail": "no such skill(s): nope"}
    assert list(Agent.objects.get().skills.values_list("slug", flat=True)) == ["beta"]


def test_a_bad_agent_slug_is_a_422_naming_the_field(staff_client):
    response = staff_client.post(
        "/api/agents/", {"slug": "Bad Slug", "name": "x"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "slug"
    assert Agent.objects.count() == 0


def test_export_downloads_visible_skills_as_a_bundle(client, catalog):
    import io
    import zipfile

    response = client.get("/api/skills/export?slug=alpha&slug=beta")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == ["manifest.json", "skills/alpha.py", "skills/beta.py"]
    assert client.get("/api/skills/export?slug=gamma").json() == {
        "detail": "no such skill(s): gamma"
    }


def test_a_version_detail_has_its_source_and_metadata(client, catalog):
    response = client.get("/api/skills/alpha/versions/1.0.0")

    body = response.json()
    assert response.status_code == 200
    assert (body["version"], body["filename"], body["entrypoint"]) == ("1.0.0", "a.py", "run")
    assert body["source"].startswith("# /// script\n")
    assert body["metadata"]["category"] == "data"
    assert client.get("/api/skills/alpha/versions/9.9.9").status_code == 404


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
    assert [a["slug"] for a in staff_client.get("/api/agents/").json()] == ["bot"]
