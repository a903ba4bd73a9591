"""Fixtures for the API's sign-in: users, skills, agents and keys, made through the domain."""

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from atom_site.auth import verified_passwords
from atom_site.keys import api_key_create
from skills.catalog.importer import SkillSource, skills_import
from skills.models import Agent, AgentSkill, Skill

PASSWORD = "pw-12345678"


def skill_text(name: str) -> str:
    return (
        "# /// script\n"
        '# requires-python = ">=3.12"\n'
        "# dependencies = []\n"
        "#\n"
        "# [tool.atom]\n"
        f'# name = "{name}"\n'
        '# version = "1.0.0"\n'
        '# category = "text"\n'
        '# type = "transform"\n'
        '# description = "Upper-case the text it is given."\n'
        "# ///\n"
        "def run(text: str = '') -> str:\n"
        "    return text.upper()\n"
    )


@pytest.fixture(autouse=True)
def _verified_passwords_forgotten():
    """Each test starts with basic auth's cache of verified passwords empty."""
    verified_passwords.clear()
    yield
    verified_passwords.clear()


@pytest.fixture
def user_make(db) -> Callable[..., object]:
    def make(username: str = "ana", *, is_staff: bool = False, **fields):
        return get_user_model().objects.create_user(
            username, password=PASSWORD, is_staff=is_staff, **fields
        )

    return make


@pytest.fixture
def skill_publish(db) -> Callable[..., Skill]:
    """Import and approve a small skill with no packages; return it."""

    def publish(name: str = "shout", *, approve: bool = True) -> Skill:
        source = SkillSource(f"{name}.py", f"{name}.py", skill_text(name).encode())
        skills_import(sources=[source], approve=approve)
        return Skill.objects.select_related("current_version").get(slug=name)

    return publish


@pytest.fixture
def agent_make(db) -> Callable[..., Agent]:
    def make(slug: str = "helpdesk", *, skills: tuple[Skill, ...] = ()) -> Agent:
        agent = Agent.objects.create(slug=slug, name=slug.title())
        AgentSkill.objects.bulk_create([AgentSkill(agent=agent, skill=skill) for skill in skills])
        return agent

    return make


@pytest.fixture
def token_make(user_make) -> Callable[..., str]:
    """A key's token: for a new user `ana` unless an owner is given."""

    def make(*scopes: str, owner=None, **options) -> str:
        owner = owner or user_make()
        _, token = api_key_create(
            owner=owner, name=options.pop("name", "script"), scopes=scopes or ["read"], **options
        )
        return token

    return make


@pytest.fixture
def script() -> Client:
    """A client as a script is: no cookies, CSRF checked as a real server checks it (Django's
    test client skips the check unless told)."""
    return Client(enforce_csrf_checks=True)
