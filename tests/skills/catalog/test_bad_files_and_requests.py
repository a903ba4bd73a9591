"""The issue's bad-input list, each through the API (a 422) and the command (a non-zero exit):
the error names the file and the field at fault, and the catalog is left exactly as it was."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from skills.catalog.importer import SkillSource, skills_import
from skills.catalog.transitions import skill_approve
from skills.models import Skill, SkillHistory, SkillStatus, SkillVersion
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db

EDITED = "def run(text: str = '') -> dict:\n    return {'text': text.upper()}\n"


def bundle(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        entries = [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        ]
        archive.writestr(
            "manifest.json", json.dumps({"format": "atom-bundle/1", "skills": entries})
        )
    return buffer.getvalue()


# Each case: the files sent (name → bytes) and the (file, field) pairs the refusal must name.
CASES = {
    "malformed metadata": (
        {"broken.py": b"def run():\n    return {}\n"},
        [("broken.py", "script")],
    ),
    "bad toml": (
        {"broken.py": skill_source().replace('# tags = ["demo"]', "# tags = [demo").encode()},
        [("broken.py", "script")],
    ),
    "duplicate slugs in one import": (
        {
            "one.py": skill_source(name="twin").encode(),
            "two.py": skill_source(name="twin").encode(),
        },
        [("two.py", "tool.atom.name")],
    ),
    "oversized file": (
        {"big.py": skill_source(body="def run():\n    pass\n" + "#" * 5000 + "\n").encode()},
        [("big.py", "file")],
    ),
    "non-utf-8 file": (
        {"latin.py": skill_source().encode() + b"# caf\xe9\n"},
        [("latin.py", "file")],
    ),
    "traversal bundle": (
        {"evil.zip": bundle({"../evil.py": skill_source(name="evil").encode()})},
        [("evil.zip:../evil.py", "path")],
    ),
    "bomb bundle": (
        {"bomb.zip": bundle({f"skills/bomb{n}.py": b"#" * 4000 for n in range(10)})},
        [("bomb.zip", "bundle")],
    ),
    "same version, other content, over an approved skill": (
        {"echo-text.py": skill_source(body=EDITED).encode()},
        [("echo-text.py", "tool.atom.version")],
    ),
}


@pytest.fixture
def catalog(settings) -> tuple:
    """One approved skill, and the limits the cases overstep."""
    settings.ATOM_SKILL_MAX_BYTES = 4096
    settings.ATOM_BUNDLE_MAX_BYTES = 20_000
    skills_import(
        sources=[SkillSource("echo-text.py", "echo-text.py", skill_source().encode())],
        approve=True,
    )
    return catalog_state()


def catalog_state() -> tuple:
    return (
        sorted(Skill.objects.values_list("slug", "status", "content_hash", "current_version")),
        sorted(SkillVersion.objects.values_list("skill__slug", "version", "content_hash")),
        SkillHistory.objects.count(),
    )


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_user("s", password="pw", is_staff=True))
    return client


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_api_refuses_with_422_naming_file_and_field(case, catalog, staff_client):
    files, expected = CASES[case]

    response = staff_client.post(
        "/api/skills/import",
        {"files": [SimpleUploadedFile(name, data) for name, data in files.items()]},
    )

    assert response.status_code == 422, response.content
    body = response.json()
    assert [(error["file"], error["field"]) for error in body["errors"]] == expected
    assert all(error["message"] for error in body["errors"])
    assert catalog_state() == catalog


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_command_exits_non_zero_naming_file_and_field(case, catalog, tmp_path, capsys):
    files, expected = CASES[case]
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)

    with pytest.raises(CommandError, match="nothing imported"):
        call_command("skills", "import", *map(str, paths))

    printed = capsys.readouterr().err.splitlines()
    assert len(printed) == len(expected)
    for line, (file, field) in zip(printed, expected, strict=True):
        assert line.startswith(f"{tmp_path / file}"), line
        assert f": {field}: " in line, line
    assert catalog_state() == catalog


def test_approving_without_permission_is_refused_and_changes_nothing(catalog):
    draft = skill_source(name="draft-skill")
    skills_import(sources=[SkillSource("draft.py", "draft.py", draft.encode())])
    before = catalog_state()
    someone = get_user_model().objects.create_user("someone", password="pw")

    with pytest.raises(PermissionDenied, match="only staff users may approve skills"):
        skill_approve(skill=Skill.objects.get(slug="draft-skill"), actor=someone)

    assert catalog_state() == before
    assert Skill.objects.get(slug="draft-skill").status == SkillStatus.DRAFT


def test_the_command_refuses_to_approve_for_a_user_who_is_not_staff(catalog):
    skills_import(sources=[SkillSource("d.py", "d.py", skill_source(name="draft-skill").encode())])
    get_user_model().objects.create_user("someone", password="pw")
    before = catalog_state()

    with pytest.raises(CommandError, match="'someone' is not a staff user"):
        call_command("skills", "approve", "draft-skill", "--actor", "someone")

    assert catalog_state() == before


def test_an_oversized_upload_is_refused_before_it_is_read(catalog, staff_client):
    upload = SimpleUploadedFile("huge.py", b"#" * 10_000)

    response = staff_client.post("/api/skills/import", {"files": [upload]})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "file": "huge.py",
            "line": 0,
            "field": "file",
            "message": "is 10000 bytes, over the limit of 4096 bytes (ATOM_SKILL_MAX_BYTES)",
            "rule": "",
        }
    ]
    assert catalog_state() == catalog


def test_reading_a_path_that_does_not_exist_is_an_error_naming_it(catalog, tmp_path: Path):
    missing = tmp_path / "nope.py"

    with pytest.raises(CommandError, match="nothing imported: 1 error"):
        call_command("skills", "import", str(missing))

    assert catalog_state() == catalog


def test_a_multipart_body_of_no_part_that_reaches_django_is_a_422_naming_files(
    catalog, staff_client
):
    # The same body over HTTP: tests/atom_site/test_api_sweep.py.
    response = staff_client.post(
        "/api/skills/import", b"--b--\r\n", content_type="multipart/form-data; boundary=b"
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["files"]
    assert catalog_state() == catalog
