"""The pages' browser and server: uvicorn (HTTP and websockets) against the test database, and
chromium signed in as a staff user."""

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.conftest import environment_for_processes
from tests.pages.browser import HAS_CHROMIUM, browser_open, sign_in
from tests.processes import web_server

PASSWORD = "pages-pw"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/pages/" in str(item.path) and not HAS_CHROMIUM:
            item.add_marker(pytest.mark.skip(reason="needs chromium (bin/test installs it)"))


@pytest.fixture(scope="module")
def web(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """The web server on a free port, serving this session's test database; its base URL."""
    log = tmp_path_factory.mktemp("web") / "web.log"
    with web_server(environment_for_processes(), log) as host:
        yield f"http://{host}"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with browser_open() as opened:
        yield opened


@pytest.fixture
def staff_member(transactional_db):
    # The web server checks passwords with the project's hashers, not the tests' fast one.
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    return get_user_model().objects.create(
        username="pages-staff", password=hashed, is_staff=True, is_superuser=True
    )


@pytest.fixture
def signed_in(browser, web, staff_member) -> Iterator:
    """A fresh page signed in as the staff member (a context of its own: its own cookies)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, web, staff_member.username, PASSWORD)
    yield page
    context.close()
