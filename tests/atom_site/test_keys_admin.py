"""API keys in the admin: made with the token shown once, listed, revoked."""

import re

import pytest
from django.contrib.messages import get_messages

from atom_site.keys import api_key_authenticate
from atom_site.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, user_make):
    client.force_login(user_make("root", is_staff=True, is_superuser=True))
    return client


def test_the_admin_makes_a_key_and_shows_its_token_once(admin_client, user_make, agent_make):
    ana = user_make("ana")
    agent = agent_make("helpdesk")

    response = admin_client.post(
        "/admin/atom_site/apikey/add/",
        {"name": "ci", "owner": ana.pk, "agent": agent.pk, "scopes": ["run", "read"]},
        follow=True,
    )

    assert response.status_code == 200
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    [shown] = [message for message in messages if "shown this once" in message]
    token = re.search(r"atom_[0-9a-f]{12}_[A-Za-z0-9]{43}", shown).group(0)
    key = api_key_authenticate(token)
    assert (key.name, key.owner, key.agent, key.scopes) == ("ci", ana, agent, ["read", "run"])
    changelist = admin_client.get("/admin/atom_site/apikey/").content.decode()
    assert key.public_id in changelist
    assert "read, run" in changelist
    assert token not in changelist
    assert (
        token not in admin_client.get(f"/admin/atom_site/apikey/{key.pk}/change/").content.decode()
    )


def test_the_admin_refuses_a_key_without_scopes_and_writes_nothing(admin_client, user_make):
    ana = user_make("ana")

    response = admin_client.post("/admin/atom_site/apikey/add/", {"name": "ci", "owner": ana.pk})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"scopes": ["This field is required."]}
    assert ApiKey.objects.count() == 0


def test_the_admin_revoke_action_ends_keys_at_once(admin_client, token_make):
    token = token_make("read")
    key = ApiKey.objects.get()

    admin_client.post(
        "/admin/atom_site/apikey/", {"action": "revoke", "_selected_action": [key.pk]}
    )

    assert ApiKey.objects.get().revoked_at is not None
    assert api_key_authenticate(token) is None
