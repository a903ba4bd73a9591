"""The pip backend (for machines without uv), the npm backend (Node skills), and what both
Python backends leave in place (console scripts that run)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from skills.installer.backends import ResolutionError
from skills.installer.builder import environment_ensure
from skills.models import Environment, EnvironmentStatus
from tests.skills.installer.conftest import python_in, temp_dirs

pytestmark = pytest.mark.django_db


def node_in(environment, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", "-e", code], cwd=environment.location, capture_output=True, text=True, timeout=60
    )


def test_the_pip_backend_builds_a_verified_environment_with_hashes(envs_dir: Path):
    environment = environment_ensure(language="python", requirements=["six"], backend="pip")

    assert (environment.status, environment.backend) == (EnvironmentStatus.READY, "pip")
    assert "six==" in environment.lockfile
    assert "--hash=sha256:" in environment.lockfile
    assert python_in(environment, "import six").returncode == 0
    uv = environment_ensure(language="python", requirements=["six"], backend="uv")
    assert uv.key != environment.key
    assert Environment.objects.count() == 2


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_console_scripts_run_from_the_environments_final_place(envs_dir: Path, backend: str):
    environment = environment_ensure(
        language="python", requirements=["pyflakes>=3"], backend=backend
    )

    script = Path(environment.location) / "bin" / "pyflakes"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, env={}
    )

    assert result.returncode == 0, result.stderr
    [pinned] = re.findall(r"^pyflakes==(\S+)", environment.lockfile, re.MULTILINE)
    assert result.stdout.split()[0] == pinned
    assert ".tmp" not in script.read_text().splitlines()[0]


def test_the_pip_backend_reinstalls_from_its_kept_lock(envs_dir: Path):
    first = environment_ensure(language="python", requirements=["iniconfig"], backend="pip")
    shutil.rmtree(first.location)

    again = environment_ensure(language="python", requirements=["iniconfig"], backend="pip")

    assert again.build_count == 2
    assert again.lockfile == first.lockfile
    assert python_in(again, "import iniconfig").returncode == 0


def test_the_npm_backend_installs_node_packages_with_a_lockfile(envs_dir: Path):
    environment = environment_ensure(language="node", requirements=["lodash@^4.17.21"])

    assert (environment.status, environment.backend) == (EnvironmentStatus.READY, "npm")
    assert environment.interpreter.startswith("node-")
    assert environment.node_path == envs_dir / environment.key / "node_modules"
    lock = json.loads(environment.lockfile)
    assert lock["packages"]["node_modules/lodash"]["integrity"].startswith("sha512-")
    assert json.loads((Path(environment.location) / "package.json").read_text())[
        "dependencies"
    ] == {"lodash": "^4.17.21"}
    result = node_in(environment, "console.log(require('lodash').chunk([1, 2, 3], 2).length)")
    assert (result.returncode, result.stdout.strip()) == (0, "2")
    assert temp_dirs(envs_dir) == []


def test_a_deleted_node_environment_is_rebuilt_from_its_lock(envs_dir: Path):
    first = environment_ensure(language="node", requirements=["lodash@^4.17.21"])
    shutil.rmtree(first.location)

    again = environment_ensure(language="node", requirements=["lodash@^4.17.21"])

    assert again.build_count == 2
    assert json.loads(again.lockfile)["packages"] == json.loads(first.lockfile)["packages"]
    assert (Path(again.location) / "node_modules" / "lodash").is_dir()


def test_an_npm_package_missing_from_the_registry_fails_the_build(envs_dir: Path):
    with pytest.raises(ResolutionError) as raised:
        environment_ensure(language="node", requirements=["atom-no-such-package-zq9@^1.0.0"])

    assert "404" in raised.value.output
    environment = Environment.objects.get()
    assert environment.status == EnvironmentStatus.FAILED
    assert not Path(environment.location).exists()
    assert temp_dirs(envs_dir) == []
