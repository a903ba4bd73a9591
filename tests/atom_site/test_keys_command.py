"""`manage.py keys create | list | revoke`, and its refusals of bad input."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from atom_site.keys import api_key_authenticate
from atom_site.models import ApiKey
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def keys(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_token_once_and_list_never_shows_it(user_make, agent_make):
    user_make("ana")
    agent_make("helpdesk")

    token, note = keys(
        "create", "--user", "ana", "--name", "ci", "--scope", "run,read", "--scope", "install",
        "--agent", "helpdesk", "--expires-in", "30d",
    )  # fmt: skip
    listing, _ = keys("list")

    token = token.strip()
    key = api_key_authenticate(token)
    assert key is not None
    assert (key.owner.username, key.agent.slug, key.scopes) == (
        "ana",
        "helpdesk",
        ["read", "run", "install"],
    )
    assert key.expires_at is not None
    assert "shown this once" in note
    assert token not in listing
    [header, row] = listing.splitlines()
    assert row.split()[:4] == [key.public_id, "active", "ana", "helpdesk"]
    assert row.endswith("read,run,install                  ci")  # fmt: skip


def test_revoke_ends_a_key_by_its_id_or_its_token(user_make):
    user_make("ana")
    first, _ = keys("create", "--user", "ana", "--name", "one", "--scope", "read")
    second, _ = keys("create", "--user", "ana", "--name", "two", "--scope", "read")
    first_id = ApiKey.objects.get(name="one").public_id

    by_id, _ = keys("revoke", first_id)
    by_token, _ = keys("revoke", second.strip())
    again, _ = keys("revoke", first_id)

    assert by_id == f"revoked {first_id} (one)\n"
    assert by_token.startswith("revoked ")
    assert again == f"{first_id} (one) was already revoked\n"
    assert api_key_authenticate(first.strip()) is None
    assert api_key_authenticate(second.strip()) is None
    assert keys("list")[0].count("revoked") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "ghost"], "--user: no such user 'ghost'"),
        (
            ["--scope", "read,fly"],
            "--scope: unknown scope(s) 'fly'; use read, run, install, publish, admin",
        ),
        (["--agent", "nobody"], "--agent: no such agent 'nobody'"),
        (
            ["--expires-in", "soon"],
            "--expires-in: 'soon': use a number and a unit, e.g. 90d, 12h, 30m",
        ),
        (["--name", " "], "--name: give the key a name (what or who will use it)"),
    ],
)
def test_create_refuses_bad_input_naming_the_option_and_writes_nothing(user_make, args, message):
    user_make("ana")
    options = {"--user": "ana", "--name": "ci", "--scope": "read"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))

    with pytest.raises(CommandError) as refused:
        keys("create", *[part for pair in options.items() for part in pair])

    assert str(refused.value) == message
    assert ApiKey.objects.count() == 0


def test_revoking_an_unknown_key_is_refused():
    with pytest.raises(CommandError, match="key: no API key 'abcdef012345'"):
        keys("revoke", "abcdef012345")


def test_bad_input_exits_non_zero_from_the_shell(process_env):
    done = subprocess.run(
        [sys.executable, "manage.py", "keys", "create", "--user", "ghost", "--name", "ci",
         "--scope", "read"],
        cwd=ROOT, env=process_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.strip() == "CommandError: --user: no such user 'ghost'"
    assert done.stdout == ""
