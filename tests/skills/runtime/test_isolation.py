"""What a skill can reach in each isolation mode: environment, network, files."""

import socket
import sys

import pytest
from django.conf import settings

from skills.runtime.sandbox import is_secret_looking, runner_environment

REACH = """
import socket
def run(port, path):
    reached = {}
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        reached["network"] = True
    except OSError:
        reached["network"] = False
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        reached["project"] = True
    except OSError:
        reached["project"] = False
    return reached
"""


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.parametrize("network", [False, True])
def test_bwrap_hides_the_network_and_the_project_and_none_does_not(
    make_registry, write_skill, listening_port, sandbox, network
):
    pool = make_registry().pool_for("reach", sys.executable, "python", network=network)
    skill = write_skill("reach.py", REACH)
    project_file = str(settings.BASE_DIR / "pyproject.toml")

    reached = pool.call(
        skill_id="reach", path=skill, params={"port": listening_port, "path": project_file}
    ).result

    if sandbox == "bwrap":
        assert reached == {"network": network, "project": False}
    else:
        assert reached == {"network": True, "project": True}


def test_bwrap_gives_a_read_only_system(make_registry, write_skill, sandbox):
    if sandbox == "none":
        pytest.skip("without a sandbox the system is as writable as the host user makes it")
    pool = make_registry().pool_for("ro", sys.executable, "python")
    skill = write_skill(
        "write.py",
        """
        import errno
        def run():
            try:
                open("/usr/atom-was-here", "w")
            except OSError as error:
                return errno.errorcode[error.errno]
            return "written"
        """,
    )

    assert pool.call(skill_id="write", path=skill).result == "EROFS"


def test_the_runner_environment_is_an_allow_list():
    host = {
        "LANG": "en_GB.UTF-8",
        "TZ": "Europe/Paris",
        "SECRET_KEY": "s",
        "DATABASE_URL": "postgres://x",
        "HOME": "/root",
        "PATH": "/opt/evil:/usr/bin",
        "PYTHONPATH": "/work/main",
    }

    env = runner_environment(home="/tmp/r", interpreter="/envs/e/bin/python", host_environ=host)

    assert env == {
        "LANG": "en_GB.UTF-8",
        "TZ": "Europe/Paris",
        "HOME": "/tmp/r",
        "TMPDIR": "/tmp/r",
        "PATH": "/envs/e/bin:/usr/local/bin:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "NO_COLOR": "1",
    }


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "GITHUB_TOKEN", "DB_PASSWORD", "API_KEY"]
)
def test_a_secret_looking_variable_is_refused_even_when_asked_for(name):
    assert is_secret_looking(name) is True
    with pytest.raises(ValueError, match=f"refusing to pass {name}"):
        runner_environment(home="/h", interpreter="/p/bin/python", extra={name: "x"})


def test_harmless_extra_variables_are_passed():
    env = runner_environment(home="/h", interpreter="/p/bin/python", extra={"NODE_PATH": "/n"})

    assert env["NODE_PATH"] == "/n"
