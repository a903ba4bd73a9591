"""Approving and deprecating over the API: staff only, recorded with who did it."""

import pytest

from skills.models import Skill, SkillHistory, SkillStatus

pytestmark = pytest.mark.django_db


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
