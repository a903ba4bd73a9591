"""`import atom`: Django configured from the server's variables, a database that is not migrated
named with what to run, and ORM calls that work inside a running event loop (as in Jupyter)
with Django's async safety left on."""

import asyncio
import os
import subprocess
import sys

import pytest
from django.core.exceptions import SynchronousOnlyOperation

import atom
from skills.models import Skill
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

FRESH_DATABASE_SCRIPT = """
import atom
try:
    atom.skills()
except atom.SetupRequired as error:
    print("REFUSED:", error)
print("SETUP:", atom.setup(migrate=True))
print("ROWS:", len(atom.skills()))
"""


def test_an_unmigrated_database_says_what_to_call_and_migrates_when_asked(tmp_path):
    env = {
        **os.environ,
        "ATOM_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)

    done = subprocess.run(
        [sys.executable, "-c", FRESH_DATABASE_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"REFUSED: the SQLite file {tmp_path / 'atom.sqlite3'} is not")
    assert "call atom.setup(migrate=True), or run `python manage.py migrate`" in lines[0]
    assert lines[1] == f"SETUP: Atom on the SQLite file {tmp_path / 'atom.sqlite3'}"
    assert lines[2] == "ROWS: 0"
    assert "no such table" not in done.stderr


def test_orm_calls_work_inside_a_running_event_loop_without_turning_off_async_safety(publish):
    publish("shout")

    async def cell():
        with pytest.raises(SynchronousOnlyOperation):
            Skill.objects.count()  # Django's guard is on in this loop ...
        return atom.skills("shout"), atom.skill("shout")  # ... and atom's calls still work

    frame, card = asyncio.run(cell())

    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
    assert frame["slug"].tolist() == ["shout"]
    assert card.slug == "shout"
    assert "<code>shout</code>" in card._repr_html_()


def test_atom_is_not_shadowed_by_an_installed_distribution():
    from importlib.metadata import PackageNotFoundError, distribution

    assert atom.__file__ == str(ROOT / "atom" / "__init__.py")
    with pytest.raises(PackageNotFoundError):
        distribution("atom")
