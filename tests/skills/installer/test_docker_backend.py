"""The Docker backend: one clear line without an engine; a real image when one is running."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skills.installer.backends import BackendUnavailable
from skills.installer.backends.docker import (
    DockerBackend,
    docker_client,
    docker_run_options,
    dockerfile,
)
from skills.installer.builder import environment_ensure, environment_row_for, spec_for
from skills.installer.keys import environment_spec
from skills.models import Environment, EnvironmentStatus
from tests.skills.installer.conftest import temp_dirs


@pytest.mark.django_db
def test_without_an_engine_the_docker_backend_says_so_in_one_line(
    envs_dir: Path, settings, tmp_path: Path
):
    settings.ATOM_DOCKER_URL = f"unix://{tmp_path}/docker.sock"

    with pytest.raises(BackendUnavailable) as raised:
        environment_ensure(language="python", requirements=["six"], backend="docker")

    message = raised.value.message
    assert message.startswith(
        f"Docker backend: no Docker engine is reachable at unix://{tmp_path}/docker.sock ("
    )
    assert "\n" not in message
    environment = Environment.objects.get()
    assert (environment.status, environment.error) == (EnvironmentStatus.FAILED, message)
    assert environment.location == f"atom-env:{environment.key}"
    assert temp_dirs(envs_dir) == []


@pytest.mark.django_db
def test_a_ready_image_is_not_rebuilt_because_the_engine_is_down(settings, tmp_path: Path):
    settings.ATOM_DOCKER_URL = f"unix://{tmp_path}/docker.sock"
    environment = environment_row_for(
        spec_for(language="python", requirements=[], backend="docker")
    )
    Environment.objects.filter(pk=environment.pk).update(status=EnvironmentStatus.READY)

    with pytest.raises(BackendUnavailable):
        environment_ensure(language="python", requirements=[], backend="docker")

    environment.refresh_from_db()
    assert (environment.status, environment.error, environment.build_count) == (
        EnvironmentStatus.READY,
        "",
        0,
    )


def test_run_options_default_to_512m_one_cpu_and_no_network(settings):
    assert docker_run_options() == {
        "mem_limit": "512m",
        "nano_cpus": 1_000_000_000,
        "network_disabled": True,
    }
    settings.ATOM_POLICY_ALLOW_NETWORK = True
    assert docker_run_options(memory="1g", cpus=0.5, network=True) == {
        "mem_limit": "1g",
        "nano_cpus": 500_000_000,
        "network_disabled": False,
    }


def test_the_image_installs_the_hashed_lock_and_verifies_it(settings):
    settings.ATOM_DOCKER_BASE_IMAGE = "python:3.12-slim"
    spec = environment_spec(
        language="python", requirements=["six"], policy_version="p", backend="docker"
    )

    assert dockerfile(spec).splitlines() == [
        "FROM python:3.12-slim",
        f"LABEL atom.environment.key={spec.key}",
        "COPY requirements.lock verify.py wanted.json /atom/",
        "RUN python -m venv /atom/env",
        "RUN /atom/env/bin/python -m pip install --no-cache-dir --disable-pip-version-check "
        "--no-color --require-hashes -r /atom/requirements.lock",
        "RUN /atom/env/bin/python /atom/verify.py",
    ]
    settings.ATOM_DOCKER_BASE_IMAGE = "python:3.12-alpine"
    assert (
        environment_spec(
            language="python", requirements=["six"], policy_version="p", backend="docker"
        ).key
        != spec.key
    )


def _engine_or_skip():
    """The engine's client; without one, skip (or fail under `make test-docker`)."""
    try:
        return docker_client()
    except BackendUnavailable as unavailable:
        if os.environ.get("ATOM_TEST_DOCKER") == "required":
            pytest.fail(unavailable.message)
        pytest.skip(unavailable.message)


PYTHON_HOME = Path(sys.base_prefix)
CERTS = "/etc/ssl/certs/ca-certificates.crt"


def _shared_libraries() -> set[str]:
    """The shared libraries this host's Python and its extension modules load."""
    binaries = [Path(sys._base_executable).resolve(), Path(shutil.which("dash") or "/bin/sh")]
    binaries += list((PYTHON_HOME / "lib" / "python3.12" / "lib-dynload").glob("*.so"))
    found = set()
    for binary in binaries:
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            parts = line.split("=>")[-1].split()
            if parts and parts[0].startswith("/") and not parts[0].startswith(str(PYTHON_HOME)):
                found.add(parts[0])
    return found


def _rootfs_archive(directory: Path) -> Path:
    """A minimal root filesystem: this host's Python 3.12, the libraries it needs, a shell and
    the CA certificates, so `pip install` works inside a container."""
    rootfs = directory / "rootfs"
    home = rootfs / str(PYTHON_HOME).lstrip("/")
    home.parent.mkdir(parents=True)
    ignore = shutil.ignore_patterns("test", "tests", "__pycache__", "idlelib", "tkinter")
    shutil.copytree(PYTHON_HOME, home, symlinks=True, ignore=ignore)
    for library in _shared_libraries():
        target = rootfs / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(library).resolve(), target)
    for name in ("bin", "tmp", "etc/ssl/certs"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(shutil.which("dash") or "/bin/sh").resolve(), rootfs / "bin" / "sh")
    shutil.copy2(
        Path("/etc/ssl/certs/ca-certificates.crt").resolve(),
        rootfs / "etc/ssl/certs/ca-certificates.crt",
    )
    (rootfs / "bin" / "python").symlink_to(Path(sys._base_executable).resolve())
    archive = directory / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
    shutil.rmtree(rootfs)
    return archive


@pytest.fixture
def local_base_image(tmp_path: Path) -> str:
    """A base image made here, since no registry can be reached: `docker import` of a root
    filesystem holding this host's Python."""
    import docker

    client = _engine_or_skip()
    tag = "atom-test-base:py312"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        archive = _rootfs_archive(tmp_path)
        changes = [
            "ENV PATH=/bin:" + str(PYTHON_HOME / "bin"),
            # This host reaches the index through a proxy with its own CA, as pip does here.
            "ENV SSL_CERT_FILE=" + CERTS,
            "ENV PIP_CERT=" + CERTS,
        ]
        with archive.open("rb") as data:
            client.api.import_image_from_data(
                data, repository="atom-test-base", tag="py312", changes=changes
            )
    return tag


@pytest.mark.django_db
def test_with_an_engine_an_image_is_built_per_key(envs_dir: Path, settings, local_base_image):
    settings.ATOM_DOCKER_BASE_IMAGE = local_base_image
    settings.ATOM_DOCKER_BUILD_NETWORK = "host"  # dockerd runs here with --bridge=none

    environment = environment_ensure(language="python", requirements=["six"], backend="docker")

    assert environment.status == EnvironmentStatus.READY
    assert environment.location == f"atom-env:{environment.key}"
    assert environment.size_bytes > 0
    client = docker_client()
    output = client.containers.run(
        environment.location,
        ["/atom/env/bin/python", "-c", "import six; print(six.__name__)"],
        remove=True,
        **docker_run_options(),
    )
    assert output.decode().strip() == "six"
    DockerBackend().remove(environment.location)
    assert not DockerBackend().is_present(environment.location)
