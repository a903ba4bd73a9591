"""`manage.py skills`: import, export, list, approve and deprecate call the catalog's functions."""

import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from skills.models import Skill, SkillStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("curator", password="pw", is_staff=True)


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


def test_approve_deprecate_and_list(write_skill, staff, capsys):
    call_command("skills", "import", str(write_skill("a.py", name="alpha")))

    call_command("skills", "approve", "alpha", "--actor", "curator")
    call_command("skills", "approve", "alpha", "--actor", "curator")
    call_command("skills", "list", "--status", "approved")
    call_command("skills", "deprecate", "alpha", "--actor", "curator")

    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == ["1 approved, 0 already approved", "0 approved, 1 already approved"]
    assert out[3].split() == ["skill", "version", "category", "type", "status"]
    assert out[4].split() == ["alpha", "1.0.0", "text", "transform", "approved"]
    assert out[5:] == ["1 skill(s)", "1 deprecated, 0 already deprecated"]
    assert Skill.objects.get().status == SkillStatus.DEPRECATED


def test_approving_an_unknown_skill_fails(staff):
    with pytest.raises(CommandError, match="no such skill"):
        call_command("skills", "approve", "ghost", "--actor", "curator")
