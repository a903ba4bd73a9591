"""Fixtures for the API's sign-in (users, skills, agents and keys, made through the domain) and a
private redis-server that tests may stop and start."""

import shutil
import subprocess
import time
from collections.abc import Callable

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from atom_site import cache as atom_cache
from atom_site.auth import verified_passwords
from atom_site.config import caches_for
from atom_site.keys import api_key_create
from skills.catalog.importer import SkillSource, skills_import
from skills.models import Agent, AgentSkill, Skill
from tests.faults import needs

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


def redis_start(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("the private redis-server did not start")


@pytest.fixture
def private_redis(free_port, settings, monkeypatch):
    needs(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = redis_start(free_port)
    settings.CACHES = caches_for(
        redis_url=f"redis://127.0.0.1:{free_port}/0",
        data_dir=settings.ATOM_DATA_DIR,
        key_prefix=settings.ATOM_KEY_PREFIX,
    )
    call_command("createcachetable")  # as `up` does
    monkeypatch.setattr(atom_cache, "REDIS_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(atom_cache, "outage", atom_cache.RedisOutage())
    state = {"server": server, "port": free_port}
    yield state
    state["server"].kill()
    state["server"].wait()


def redis_stop(state) -> None:
    state["server"].terminate()
    state["server"].wait(timeout=20)
