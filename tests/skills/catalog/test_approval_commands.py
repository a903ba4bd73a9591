"""`manage.py skills approve`, `deprecate` and `list`."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from skills.models import Skill, SkillStatus

pytestmark = pytest.mark.django_db


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
