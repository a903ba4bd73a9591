"""Installer programs read no configuration file Atom did not choose: a pip.conf, a uv.toml or
an .npmrc naming an index would bypass the supply-chain settings as an environment variable
would (see test_child_environment.py)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from skills.installer.backends.npm import npm_environment
from skills.installer.backends.pip import pip_environment
from skills.installer.backends.uv import uv_binary, uv_environment
from skills.installer.keys import interpreter_for
from skills.models import Environment
from tests.skills.installer.conftest import unique_requirement

pytestmark = pytest.mark.django_db

CLOSED = "http://127.0.0.1:9/"


def hostile_home(root: Path) -> Path:
    """A home whose every pip, uv and npm file sends installs to a closed port."""
    home = root / "home"
    pip_conf = f"[global]\nindex-url = {CLOSED}\nextra-index-url = {CLOSED}\n"
    uv_toml = f'index-url = "{CLOSED}"\n\n[pip]\nindex-url = "{CLOSED}"\n'
    files = {
        ".config/pip/pip.conf": pip_conf,
        ".pip/pip.conf": pip_conf,
        ".config/uv/uv.toml": uv_toml,
        ".npmrc": f"registry={CLOSED}\n",
    }
    for name, text in files.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    return home


def project_files_above(directory: Path) -> None:
    """Files a project's tools would find walking up from the environments directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "uv.toml").write_text(f'index-url = "{CLOSED}"\n')
    (directory / ".npmrc").write_text(f"registry={CLOSED}\n")


@pytest.fixture
def hostile_shell(tmp_path, installer_env, envs_dir) -> dict[str, str]:
    home = hostile_home(tmp_path)
    project_files_above(envs_dir)
    return {**installer_env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def test_the_hostile_files_would_redirect_each_program_without_atoms_environment(
    hostile_shell, envs_dir
):
    # The control: these files do redirect the programs that read them.
    home = {"PATH": hostile_shell["PATH"], "HOME": hostile_shell["HOME"]}
    pip = subprocess.run(
        [interpreter_for("python").path, "-m", "pip", "config", "list"],
        env=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"global.index-url='{CLOSED}'" in pip.stdout
    uv = subprocess.run(
        [uv_binary(), "pip", "compile", "--no-header", "-"],
        input="iniconfig\n",
        env={**home, "UV_CACHE_DIR": str(envs_dir / "uv-cache"), "UV_PYTHON_DOWNLOADS": "never"},
        cwd=envs_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert uv.returncode != 0
    assert "127.0.0.1:9" in uv.stderr
    if shutil.which("npm"):
        npm = subprocess.run(
            ["npm", "config", "get", "registry"],
            env=home,
            cwd=envs_dir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert npm.stdout.strip() == CLOSED


def test_pip_reads_no_configuration_file_not_even_the_machines(hostile_shell, monkeypatch):
    # /etc/pip.conf and /etc/xdg/pip/pip.conf, where a host has them, are skipped as well.
    monkeypatch.setenv("HOME", hostile_shell["HOME"])
    env = pip_environment()

    listed = subprocess.run(
        [interpreter_for("python").path, "-m", "pip", "config", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert listed.returncode == 0, listed.stderr
    # Only Atom's own variables: nothing from a file (global., user., site. lines).
    sources = {line.split(".")[0] for line in listed.stdout.splitlines()}
    assert sources == {":env:"}
    assert "index-url" not in listed.stdout
    assert "constraint" not in listed.stdout


def test_uv_and_npm_children_are_told_to_ignore_files_atom_did_not_write(
    hostile_shell, settings, monkeypatch
):
    monkeypatch.setenv("HOME", hostile_shell["HOME"])
    settings.ATOM_NPM_REGISTRY = "https://registry.npmjs.org/"

    assert uv_environment()["UV_NO_CONFIG"] == "1"
    env = npm_environment()
    atoms_npmrc = Path(settings.ATOM_DATA_DIR) / "npm" / "npmrc"
    assert env["npm_config_userconfig"] == str(atoms_npmrc)
    assert env["npm_config_globalconfig"] == str(atoms_npmrc.with_name("global-npmrc"))
    assert "registry=https://registry.npmjs.org/\n" in atoms_npmrc.read_text()


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_a_python_install_with_hostile_config_files_succeeds(manage_py, hostile_shell, backend):
    done = subprocess.run(
        [*manage_py, "envs", "ensure", "--backend", backend, unique_requirement("iniconfig")],
        env=hostile_shell,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    environment = Environment.objects.get(key=json.loads(done.stdout)["key"])
    assert environment.status == "ready"
    assert environment.lockfile.startswith("iniconfig==")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_a_node_install_with_hostile_config_files_succeeds(manage_py, hostile_shell):
    done = subprocess.run(
        [*manage_py, "envs", "ensure", "--language", "node", "is-number@^7.0.0"],
        env=hostile_shell,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    environment = Environment.objects.get(key=json.loads(done.stdout)["key"])
    assert environment.status == "ready"
    packages = json.loads(environment.lockfile)["packages"]
    assert packages["node_modules/is-number"]["resolved"].startswith("https://registry.npmjs.org/")
