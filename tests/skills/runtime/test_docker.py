"""Container-backed calls: one clear line without an engine; real containers with one."""

import io
import json
import subprocess
import sys

import pytest
from django.utils import timezone

from skills.catalog.importer import SkillSource, skills_import
from skills.installer.backends.docker import DockerBackend
from skills.installer.builder import environment_row_for, spec_for
from skills.models import Environment, EnvironmentStatus, Skill
from skills.runs.calls import run_skill
from skills.runtime import CallLimits
from skills.runtime.docker import DockerUnavailable, docker_call, docker_engine
from skills.runtime.sandbox import PYTHON_RUNNER
from tests.skills.conftest import skill_source
from tests.skills.installer.test_docker_backend import local_base_image  # noqa: F401 - fixture


@pytest.fixture
def no_engine(settings):
    settings.ATOM_DOCKER_URL = "unix:///nonexistent/atom-docker.sock"


@pytest.mark.usefixtures("no_engine")
def test_without_an_engine_the_docker_path_says_so_in_one_line(write_skill):
    skill = write_skill("s.py", "def run():\n    return 1\n")

    with pytest.raises(DockerUnavailable) as unavailable:
        docker_call(image="atom-env:any", skill_id="s", path=skill)

    message = str(unavailable.value)
    assert "\n" not in message
    assert message.startswith("container-backed calls are unavailable: ")
    assert "unix:///nonexistent/atom-docker.sock" in message


def test_the_one_shot_mode_containers_use_answers_from_files(tmp_path, write_skill):
    skill = write_skill("add.py", "def run(a, b):\n    print('adding')\n    return a + b\n")
    request = {"op": "call", "skill_id": "add", "path": str(skill), "params": {"a": 2, "b": 3}}
    (tmp_path / "request.json").write_text(json.dumps(request))

    completed = subprocess.run(
        [sys.executable, "-I", str(PYTHON_RUNNER), "--once", "request.json", "answer.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    answer = json.loads((tmp_path / "answer.json").read_text())
    assert (completed.returncode, completed.stdout) == (0, "adding\n")
    assert (answer["ok"], answer["result"], answer["cache"]) == (True, 5, "loaded")


@pytest.fixture
def engine_image(local_base_image):  # noqa: F811 - the installer's fixture, imported above
    docker_engine()
    return local_base_image


def test_a_call_runs_in_a_container_with_its_output_captured(engine_image, write_skill):
    skill = write_skill(
        "where.py",
        "import socket\n"
        "def run(n):\n"
        "    print('in a container')\n"
        "    return [n, socket.gethostname()]\n",
    )

    result = docker_call(
        image=engine_image, skill_id="where", path=skill, params={"n": 4}, interpreter="python"
    )

    assert result.ok is True, result.error
    assert result.result[0] == 4
    assert result.stdout.text == "in a container\n"
    assert result.cache == "loaded"


def test_a_container_call_that_loops_is_stopped_at_its_timeout(engine_image, write_skill):
    skill = write_skill("loop.py", "def run():\n    while True:\n        pass\n")

    result = docker_call(
        image=engine_image,
        skill_id="loop",
        path=skill,
        limits=CallLimits(timeout=0.5),
        interpreter="python",
    )

    assert (result.ok, result.error.type) == (False, "TimeoutError")
    assert "wall-clock limit of 0.5 s" in result.error.message


def test_a_container_call_that_allocates_without_bound_reports_a_memory_error(
    engine_image, write_skill
):
    skill = write_skill(
        "hungry.py",
        "def run():\n    hoard = []\n    while True:\n        hoard.append(bytearray(2**23))\n",
    )

    result = docker_call(
        image=engine_image,
        skill_id="hungry",
        path=skill,
        limits=CallLimits(timeout=20, memory_mb=96),
        interpreter="python",
    )

    assert (result.ok, result.error.type) == (False, "MemoryError")
    assert "memory limit of 96 MB" in result.error.message


@pytest.fixture
def docker_environment(engine_image, settings, tmp_path):
    """A ready Docker environment for skills without requirements: a real image with a real
    interpreter at /atom/env/bin/python, made in a second from the base image (the installer's
    own tests cover building one from a lock)."""
    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    settings.ATOM_INSTALL_BACKEND = "docker"
    environment = environment_row_for(spec_for(language="python", requirements=[]))
    dockerfile = (
        f"FROM {engine_image}\n"
        'RUN ["python", "-c", "import os, sys; os.makedirs(\'/atom/env/bin\'); '
        "os.symlink(sys.executable, '/atom/env/bin/python')\"]\n"
    )
    docker_engine().images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=environment.location, network_mode="none"
    )
    Environment.objects.filter(pk=environment.pk).update(
        status=EnvironmentStatus.READY, ready_at=timezone.now()
    )
    yield environment
    DockerBackend().remove(environment.location)


@pytest.mark.django_db
def test_run_skill_runs_a_docker_environment_in_a_container(docker_environment, write_skill):
    path = write_skill(
        "boxed.py",
        skill_source("boxed", body="def run(text=''):\n    return {'boxed': text}\n"),
    )
    skills_import(sources=[SkillSource.from_path(path)])
    skill = Skill.objects.get(slug="boxed")

    result = run_skill(skill, {"text": "hi"})

    assert (result.ok, result.result) == (True, {"boxed": "hi"}), result.error
    assert result.runner_pid is None
    assert Skill.objects.get(pk=skill.pk).run_count == 1
