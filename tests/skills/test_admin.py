import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from skills.importer import skills_import, sources_from_paths
from skills.models import Skill, SkillStatus
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    return client


@pytest.fixture
def drafts(write_skill):
    write_skill("a.py", name="alpha")
    sources, _ = sources_from_paths([write_skill("b.py", name="beta").parent])
    skills_import(sources=sources)


def test_the_changelist_filters_and_searches(admin_client_logged, drafts):
    page = admin_client_logged.get("/admin/skills/skill/?status__exact=draft&q=alp")
    assert page.status_code == 200
    assert list(page.context["cl"].queryset.values_list("slug", flat=True)) == ["alpha"]


def test_the_change_page_shows_versions_and_history(admin_client_logged, drafts):
    skill = Skill.objects.get(slug="alpha")
    page = admin_client_logged.get(f"/admin/skills/skill/{skill.pk}/change/")
    assert page.status_code == 200
    assert b"1.0.0" in page.content
    assert b"Created" in page.content


def test_the_approve_action_records_the_admin(admin_client_logged, drafts):
    ids = list(Skill.objects.values_list("pk", flat=True))
    response = admin_client_logged.post(
        "/admin/skills/skill/", {"action": "approve_selected", "_selected_action": ids}, follow=True
    )
    assert b"2 approved, 0 already approved." in response.content
    assert set(Skill.objects.values_list("status", "approved_by__username")) == {
        (SkillStatus.APPROVED, "root")
    }


def test_the_export_action_downloads_a_bundle(admin_client_logged, drafts):
    ids = list(Skill.objects.values_list("pk", flat=True))
    response = admin_client_logged.post(
        "/admin/skills/skill/", {"action": "export_selected", "_selected_action": ids}
    )
    assert response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == ["manifest.json", "skills/alpha.py", "skills/beta.py"]


def test_the_import_page_imports_files(admin_client_logged):
    upload = SimpleUploadedFile("one.py", skill_source(name="one").encode())
    response = admin_client_logged.post(
        "/admin/skills/skill/import/", {"files": [upload], "approve": "on"}, follow=True
    )
    assert b"1 created, 0 updated, 0 unchanged" in response.content
    assert Skill.objects.get().status == SkillStatus.APPROVED


def test_the_import_page_lists_every_error_and_writes_nothing(admin_client_logged):
    good = SimpleUploadedFile("good.py", skill_source(name="good").encode())
    bad = SimpleUploadedFile("bad.py", skill_source(type="nonsense").encode())
    response = admin_client_logged.post("/admin/skills/skill/import/", {"files": [good, bad]})
    assert response.status_code == 200
    assert b"Nothing imported: 1 error(s)." in response.content
    assert b"tool.atom.type" in response.content
    assert Skill.objects.count() == 0
