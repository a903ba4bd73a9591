"""One build per key across processes; a killed build leaves nothing ready and is taken over."""

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from skills.installer.builder import environment_ensure
from skills.models import Environment, EnvironmentStatus
from tests.skills.installer.conftest import python_in, temp_dirs

pytestmark = pytest.mark.django_db(transaction=True)


def ensure_command(manage_py: list[str], *requirements: str) -> list[str]:
    return [*manage_py, "envs", "ensure", "--language", "python", *requirements]


def test_install_is_built_once_under_concurrent_requests(
    manage_py: list[str], installer_env: dict[str, str], envs_dir: Path
):
    processes = [
        subprocess.Popen(
            ensure_command(manage_py, "packaging", "six"),
            env=installer_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    answers = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr
        answers.append(json.loads(stdout.strip().splitlines()[-1]))

    environment = Environment.objects.get()
    assert environment.status == EnvironmentStatus.READY
    assert environment.build_count == 1
    assert environment.use_count == 4
    assert {answer["key"] for answer in answers} == {environment.key}
    assert {answer["location"] for answer in answers} == {str(envs_dir / environment.key)}
    assert python_in(environment, "import packaging, six").returncode == 0
    assert temp_dirs(envs_dir) == []


def test_a_build_killed_half_way_leaves_nothing_ready_and_is_built_again(
    manage_py: list[str], installer_env: dict[str, str], envs_dir: Path
):
    requirement = "iniconfig>=1.1,<3"  # a set of its own, so the build has work to do
    builder = subprocess.Popen(
        ensure_command(manage_py, requirement),
        env=installer_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not temp_dirs(envs_dir) and builder.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    builder.send_signal(signal.SIGKILL)
    builder.wait()
    assert builder.returncode == -signal.SIGKILL, "the build finished before it could be killed"

    killed = Environment.objects.get()
    assert killed.status == EnvironmentStatus.BUILDING
    assert killed.build_pid == builder.pid
    assert not Path(killed.location).exists()
    assert len(temp_dirs(envs_dir)) == 1

    # The builder's process is gone on this host: the next request takes the build over.
    environment = environment_ensure(language="python", requirements=[requirement])

    assert environment.pk == killed.pk
    assert environment.status == EnvironmentStatus.READY
    assert environment.build_count == 2
    assert python_in(environment, "import iniconfig").returncode == 0
    assert temp_dirs(envs_dir) == []
