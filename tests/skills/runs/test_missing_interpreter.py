"""A host whose interpreter for a skill's language does not run (ATOM_INSTALL_PYTHON pointing
nowhere, no Node for ATOM_NODE_BIN): every entry point says so plainly, a 503 or a command
error, and records nothing."""

import pytest
from django.core.management import CommandError, call_command

from skills.models import InstallJob, SkillRun
from tests.skills.runs.test_running_over_http import post_run, signed_in

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("catalog_runtime"),
]

MISSING = "/nonexistent/python3"
SAYS = f"ATOM_INSTALL_PYTHON={MISSING!r} does not run"


@pytest.fixture
def api(client, publish, settings):
    publish()
    settings.ATOM_INSTALL_PYTHON = MISSING
    return signed_in(client)


def test_a_run_is_503_naming_the_setting(api):
    response = post_run(api, "shout", {"params": {"text": "hi"}})

    assert response.status_code == 503
    assert SAYS in response.json()["detail"]
    assert SkillRun.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/installs/", {"skill": "shout"}),
        ("/api/installs/batch", {"skills": ["shout"]}),
        ("/api/dependencies/resolve", {"skills": ["shout"]}),
    ],
)
def test_installs_and_resolutions_are_503_naming_the_setting(api, url, body):
    response = api.post(url, body, content_type="application/json")

    assert response.status_code == 503
    assert SAYS in response.json()["detail"]
    assert InstallJob.objects.count() == 0


def test_the_marketplace_buttons_say_so_on_the_page(api):
    for action in ("install", "try"):
        response = api.post(f"/marketplace/skills/shout/{action}", {"params": '{"text": "x"}'})
        assert response.status_code == 503
        assert SAYS.replace("'", "&#x27;") in response.content.decode()
    assert api.get("/marketplace/skills/shout/").status_code == 200
    assert InstallJob.objects.count() == SkillRun.objects.count() == 0


def test_the_envs_command_exits_with_the_message(api):
    with pytest.raises(CommandError, match="does not run"):
        call_command("envs", "ensure", "six")
