"""Importing skill files and bundles through `POST /api/skills/import`."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from skills.models import Skill
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/x-python")


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
