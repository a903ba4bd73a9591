"""Fixtures for the catalog's tests: signed-in clients and a small catalog of three skills."""

import pytest
from django.contrib.auth import get_user_model

from skills.catalog.importer import skills_import, sources_from_paths
from skills.models import Skill, SkillStatus


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


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("curator", password="pw", is_staff=True)
