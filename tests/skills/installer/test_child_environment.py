"""Installer programs run with an environment Atom chooses, never the caller's: a caller's
FORCE_COLOR once put colour codes into a kept lock and failed every later install of its set."""

import json
import shutil
import subprocess

import pytest

from skills.installer.backends.npm import npm_environment
from skills.installer.backends.pip import pip_environment
from skills.installer.backends.uv import uv_environment
from skills.installer.keys import lock_key
from skills.installer.locks import lock_path
from skills.installer.process import child_environment
from skills.models import Environment
from tests.skills.installer.conftest import unique_requirement

pytestmark = pytest.mark.django_db

HOSTILE = {
    "FORCE_COLOR": "1",
    "CLICOLOR_FORCE": "1",
    "PY_COLORS": "1",
    "UV_INDEX_URL": "http://127.0.0.1:9/",
    "UV_DEFAULT_INDEX": "http://127.0.0.1:9/",
    "UV_EXTRA_INDEX_URL": "http://127.0.0.1:9/",
    "PIP_INDEX_URL": "http://127.0.0.1:9/",
    "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:9/",
    "PIP_FIND_LINKS": "/nonexistent",
    "npm_config_registry": "http://127.0.0.1:9/",
    "NPM_CONFIG_REGISTRY": "http://127.0.0.1:9/",
    "PYTHONPATH": "/nonexistent",
    "VIRTUAL_ENV": "/nonexistent",
}
# Would break the interpreter running manage.py itself, so only checked without a process.
HOSTILE_TO_EVERYONE = {"PYTHONHOME": "/nonexistent", "LC_ALL": "de_DE.ISO-8859-1", "LANG": "x"}


def test_the_callers_colour_locale_indexes_and_interpreter_paths_never_reach_an_installer():
    caller = {
        **HOSTILE,
        **HOSTILE_TO_EVERYONE,
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/someone",
        "HTTPS_PROXY": "p",
    }

    env = child_environment(caller=caller)

    assert env == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/someone",
        "HTTPS_PROXY": "p",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def test_only_atoms_own_settings_name_an_index(settings, monkeypatch):
    for name, value in HOSTILE.items():
        monkeypatch.setenv(name, value)
    settings.ATOM_INSTALL_INDEX_URL = ""

    for env in (uv_environment(), pip_environment(), npm_environment()):
        assert not {"UV_INDEX_URL", "PIP_INDEX_URL", "npm_config_registry"} & set(env)
        assert env["NO_COLOR"] == "1"
        assert "FORCE_COLOR" not in env
        assert "PYTHONPATH" not in env

    settings.ATOM_INSTALL_INDEX_URL = "https://mirror.example/simple"
    assert uv_environment()["UV_INDEX_URL"] == "https://mirror.example/simple"
    assert pip_environment()["PIP_INDEX_URL"] == "https://mirror.example/simple"


def ensure_in_hostile_shell(*, manage_py, installer_env, backend: str, requirement: str):
    return subprocess.run(
        [*manage_py, "envs", "ensure", "--backend", backend, requirement],
        env={**installer_env, **HOSTILE, "PYTHONPATH": installer_env["PYTHONPATH"]},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_a_python_install_from_a_hostile_shell_succeeds_with_a_clean_lock(
    manage_py, installer_env, backend
):
    # PYTHONPATH must reach manage.py itself (the test's own settings); the installers it
    # starts must not see it, nor anything else above.
    requirement = unique_requirement("iniconfig")

    done = ensure_in_hostile_shell(
        manage_py=manage_py, installer_env=installer_env, backend=backend, requirement=requirement
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    environment = Environment.objects.get(key=json.loads(done.stdout)["key"])
    assert environment.status == "ready"
    assert "\x1b" not in environment.lockfile
    assert environment.lockfile.startswith("iniconfig==")
    kept = lock_path(lock_key(spec=environment_spec_of(environment), resolver=backend))
    assert kept.read_text() == environment.lockfile
    again = ensure_in_hostile_shell(
        manage_py=manage_py, installer_env=installer_env, backend=backend, requirement=requirement
    )
    assert again.returncode == 0, again.stderr[-3000:]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_a_node_install_from_a_hostile_shell_succeeds_with_a_clean_lock(manage_py, installer_env):
    done = subprocess.run(
        [*manage_py, "envs", "ensure", "--language", "node", "is-number@^7.0.0"],
        env={**installer_env, **HOSTILE, "PYTHONPATH": installer_env["PYTHONPATH"]},
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    environment = Environment.objects.get(key=json.loads(done.stdout)["key"])
    assert environment.status == "ready"
    assert "\x1b" not in environment.lockfile
    assert json.loads(environment.lockfile)["packages"]["node_modules/is-number"]["version"][0] == (
        "7"
    )


def environment_spec_of(environment: Environment):
    from skills.installer.keys import environment_spec

    spec = environment_spec(
        language=environment.language,
        requirements=list(environment.requirements),
        policy_version=environment.policy_version,
        backend=environment.backend,
    )
    assert spec.key == environment.key
    return spec
