"""Basic auth pays the password hash once per credentials, not on every request."""

import base64

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from tests.atom_site.conftest import PASSWORD

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """Django's MD5 hasher (fast, for tests), counting the passwords it verifies."""

    verified = 0

    def verify(self, password: str, encoded: str) -> bool:
        CountingHasher.verified += 1
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.atom_site.test_basic_auth.CountingHasher"]
    CountingHasher.verified = 0


def basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


def test_basic_auth_verifies_the_password_once_then_trusts_what_it_verified(
    script, user_make, django_assert_num_queries
):
    user_make("bot")

    first = script.get("/api/runs/999", **basic("bot", PASSWORD))
    with django_assert_num_queries(2):  # the user, loaded again (no hash), then the run
        again = script.get("/api/runs/999", **basic("bot", PASSWORD))

    assert (first.status_code, again.status_code) == (404, 404)
    assert CountingHasher.verified == 1


def test_a_password_change_or_deactivation_ends_cached_basic_credentials_at_once(script, user_make):
    bot = user_make("bot")
    assert script.get("/api/runs/999", **basic("bot", PASSWORD)).status_code == 404

    bot.set_password("a-new-password-1")
    bot.save()
    old = script.get("/api/runs/999", **basic("bot", PASSWORD))
    new = script.get("/api/runs/999", **basic("bot", "a-new-password-1"))
    bot.is_active = False
    bot.save()
    deactivated = script.get("/api/runs/999", **basic("bot", "a-new-password-1"))

    assert (old.status_code, old.json()) == (
        401,
        {"detail": "wrong username or password", "errors": []},
    )
    assert new.status_code == 404
    assert deactivated.status_code == 401


def test_a_wrong_password_is_never_remembered(script, user_make):
    user_make("bot")

    for _ in range(2):
        assert script.get("/api/runs/999", **basic("bot", "wrong")).status_code == 401

    assert CountingHasher.verified == 2
