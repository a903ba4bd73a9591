"""A skill's runner gets the network only when the skill asks for it and the policy allows it."""

import socket

import pytest

from skills.runs.calls import run_skill
from skills.runtime import bwrap_executable

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.skipif(
        bwrap_executable() is None, reason="bubblewrap is not installed (or cannot run) here"
    ),
]

CONNECT = """
import socket

def run(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as error:
        return type(error).__name__
    return "connected"
"""


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def sandboxed(settings):
    settings.ATOM_SANDBOX = "bwrap"
    settings.ATOM_POLICY_ALLOW_NETWORK = True


@pytest.mark.parametrize(
    ("asks", "allowed", "reached"),
    [
        (True, True, "connected"),
        (True, False, "ConnectionRefusedError"),
        (False, True, "ConnectionRefusedError"),
    ],
    ids=["asked-and-allowed", "asked-but-refused-now", "not-asked"],
)
def test_the_runner_reaches_the_network_only_when_asked_and_allowed(
    ready, sandboxed, settings, listening_port, asks, allowed, reached
):
    skill = ready("connect", CONNECT, extra="# network = true\n" if asks else "")
    settings.ATOM_POLICY_ALLOW_NETWORK = allowed

    # Refused, not merely unreachable: the sandbox has a loopback of its own, where no one listens.
    result = run_skill(skill, {"port": listening_port}).raise_for_error()

    assert result.result == reached
