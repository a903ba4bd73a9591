"""`manage.py skills import` and `export`: bundles that round-trip, unknown skills refused."""

import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from skills.models import Skill, SkillStatus

pytestmark = pytest.mark.django_db


def test_import_with_approve_records_the_actor(write_skill, staff, capsys):
    write_skill("a.py", name="alpha")
    folder = write_skill("b.py", name="beta").parent

    call_command("skills", "import", str(folder), "--approve", "--actor", "curator")

    assert (
        capsys.readouterr().out.strip() == "Imported 2 file(s): 2 created, 0 updated, 0 unchanged"
    )
    assert set(Skill.objects.values_list("slug", "status", "approved_by__username")) == {
        ("alpha", SkillStatus.APPROVED, "curator"),
        ("beta", SkillStatus.APPROVED, "curator"),
    }


def test_export_writes_a_bundle_that_imports_back_unchanged(write_skill, tmp_path, capsys):
    folder = write_skill("a.py", name="alpha").parent
    call_command("skills", "import", str(folder))
    bundle = tmp_path / "out.zip"

    call_command("skills", "export", "-o", str(bundle))
    call_command("skills", "import", str(bundle))

    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        f"Exported 1 skill(s) to {bundle}",
        "Imported 1 file(s): 0 created, 0 updated, 1 unchanged",
    ]
    assert sorted(zipfile.ZipFile(bundle).namelist()) == ["manifest.json", "skills/alpha.py"]


def test_export_of_an_unknown_skill_fails_and_writes_no_file(tmp_path):
    bundle = tmp_path / "out.zip"

    with pytest.raises(CommandError, match="no such skill"):
        call_command("skills", "export", "-o", str(bundle), "nope")

    assert not bundle.exists()
