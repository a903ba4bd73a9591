"""How API clients sign in: basic auth for scripts, sessions with their CSRF token."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from skills.models import Skill

pytestmark = pytest.mark.django_db


def test_basic_auth_works_for_api_clients(catalog):
    get_user_model().objects.create_user("bot", password="pw-12345678", is_staff=True)
    import base64

    # A script has no CSRF token: check CSRF as a real server does (the test client does not).
    client = Client(enforce_csrf_checks=True)
    token = base64.b64encode(b"bot:pw-12345678").decode()
    response = client.post("/api/skills/gamma/approve", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200


def test_a_session_post_without_its_csrf_token_is_refused(catalog):
    user = get_user_model().objects.create_user("ops", password="pw-12345678", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/api/skills/gamma/approve")

    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF check Failed", "errors": []}
    assert Skill.objects.get(slug="gamma").status == "draft"
