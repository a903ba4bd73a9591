import io
import re
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from skills.catalog.importer import skills_import, sources_from_paths
from skills.models import Agent, Skill, SkillStatus
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


def test_the_deprecate_action_records_the_admin_and_skips_the_deprecated(
    admin_client_logged, drafts
):
    ids = list(Skill.objects.values_list("pk", flat=True))
    Skill.objects.filter(slug="beta").update(status=SkillStatus.DEPRECATED)

    response = admin_client_logged.post(
        "/admin/skills/skill/",
        {"action": "deprecate_selected", "_selected_action": ids},
        follow=True,
    )

    assert b"1 deprecated, 1 already deprecated." in response.content
    alpha = Skill.objects.get(slug="alpha")
    assert alpha.status == SkillStatus.DEPRECATED
    assert list(alpha.history.values_list("action", "actor__username")) == [
        ("deprecated", "root"),
        ("created", None),
    ]


def test_status_cannot_be_changed_by_editing_the_form(admin_client_logged, drafts):
    skill = Skill.objects.get(slug="alpha")

    admin_client_logged.post(
        f"/admin/skills/skill/{skill.pk}/change/",
        {"status": SkillStatus.APPROVED, "category": "other", "type": "utility"},
    )

    skill.refresh_from_db()
    assert (skill.status, skill.category, skill.type) == (SkillStatus.DRAFT, "text", "transform")
    assert skill.approved_by is None
    assert list(skill.history.values_list("action", flat=True)) == ["created"]


def test_a_watcher_error_is_shown_on_the_skill_page(admin_client_logged, tmp_path):
    from skills.catalog.watcher import skill_file_sync

    path = tmp_path / "echo.py"
    path.write_text(skill_source())
    skill_file_sync(path)
    path.write_text(skill_source(version="not a version"))
    skill_file_sync(path)
    skill = Skill.objects.get()

    page = admin_client_logged.get(f"/admin/skills/skill/{skill.pk}/change/")
    listing = admin_client_logged.get("/admin/skills/skill/")

    assert b"tool.atom.version: &#x27;not a version&#x27; is not a PEP 440 version" in page.content
    assert b"Invalid file" in page.content  # the history inline
    assert "✗ error</span>" in listing.content.decode()  # the error column


def test_the_agent_page_lists_its_skills(admin_client_logged, drafts):
    from skills.catalog.transitions import agent_mappings_change

    agent = Agent.objects.create(slug="support-bot", name="Support bot")
    agent_mappings_change(agent=agent, add=list(Skill.objects.order_by("slug")))

    listing = admin_client_logged.get("/admin/skills/agent/")
    page = admin_client_logged.get(f"/admin/skills/agent/{agent.pk}/change/")

    assert listing.context["cl"].result_list[0].mappings.count() == 2
    assert page.status_code == 200
    inline = page.context["inline_admin_formsets"][0]
    assert [form.original.skill.slug for form in inline if form.original] == ["alpha", "beta"]


def test_staff_without_change_permission_cannot_import(client):
    user = get_user_model().objects.create_user("viewer", password="pw-12345678", is_staff=True)
    client.force_login(user)
    upload = SimpleUploadedFile("one.py", skill_source(name="one").encode())

    response = client.post("/admin/skills/skill/import/", {"files": [upload]})

    assert response.status_code == 302
    assert Skill.objects.count() == 0


def test_the_error_column_marks_only_the_skills_in_error(admin_client_logged, drafts):
    Skill.objects.filter(slug="beta").update(last_error="SyntaxError: invalid syntax (b.py, 3)")

    html = admin_client_logged.get("/admin/skills/skill/?o=1").content.decode()

    rows = re.findall(r"<tr>.*?</tr>", html, re.S)
    [alpha] = [row for row in rows if ">alpha<" in row]
    [beta] = [row for row in rows if ">beta<" in row]
    assert "icon-no" not in html
    assert "icon-yes" not in html
    assert "✗ error" not in alpha
    assert 'title="SyntaxError: invalid syntax (b.py, 3)">✗ error</span>' in beta


@pytest.mark.parametrize("page", ["import/", "{pk}/try/"])
def test_the_admin_pages_of_skills_use_the_admins_breadcrumbs(admin_client_logged, drafts, page):
    skill = Skill.objects.get(slug="alpha")

    html = admin_client_logged.get("/admin/skills/skill/" + page.format(pk=skill.pk)).content

    assert b'<div class="breadcrumbs">' not in html
    assert b'<ol class="breadcrumbs">' in html
    assert b'<li aria-current="page">' in html
