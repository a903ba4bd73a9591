"""The Docker backend: one image per environment key, `atom-env:<key>`, built from a configurable
base image with the requirements' hashed lock, verified inside the image.

The lock is resolved on the host with uv for the configured interpreter, so the base image's
Python must be the same minor version (the default `python:3.12-slim` matches Atom's 3.12).
The tag is applied only when the build succeeded: an interrupted build leaves untagged layers,
never an image Atom would take for ready. Run-time limits come from `docker_run_options`.
"""

import json
import os
import re
import time
from pathlib import Path

from django.conf import settings

from skills.installer.backends.base import (
    PYTHON_VERIFY,
    Backend,
    BackendUnavailable,
    BuildResult,
    InstallError,
    VerificationError,
    verify_wanted,
)
from skills.installer.backends.uv import UvBackend
from skills.installer.keys import EnvironmentSpec
from skills.installer.process import LogWriter
from skills.policy import policy_network_allowed

IMAGE_REPOSITORY = "atom-env"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOCK_NAME = "requirements.lock"


def docker_engine_url() -> str:
    return settings.ATOM_DOCKER_URL or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker_client():
    """A connected client, or `BackendUnavailable` saying in one line that no engine answers."""
    import docker

    url = docker_engine_url()
    try:
        client = docker.DockerClient(base_url=url, timeout=30)
        client.ping()
    except docker.errors.DockerException as error:
        reason = str(error).splitlines()[0][:200]
        raise BackendUnavailable(
            f"Docker backend: no Docker engine is reachable at {url} ({reason})"
        ) from None
    return client


def docker_run_options(
    *, memory: str | None = None, cpus: float | None = None, network: bool = False
) -> dict:
    """Container limits for running a skill: memory and CPU (defaults 512m / 1.0 from settings)
    and no network unless the skill asks for it and the policy allows it."""
    return {
        "mem_limit": memory or settings.ATOM_DOCKER_MEMORY,
        "nano_cpus": int((cpus if cpus is not None else settings.ATOM_DOCKER_CPUS) * 1e9),
        "network_disabled": not policy_network_allowed(requested=network),
    }


def dockerfile(spec: EnvironmentSpec) -> str:
    lines = [
        f"FROM {spec.base_image}",
        f"LABEL atom.environment.key={spec.key}",
        f"COPY {LOCK_NAME} verify.py wanted.json /atom/",
        "RUN python -m venv /atom/env",
    ]
    if spec.requirements:
        lines.append(
            "RUN /atom/env/bin/python -m pip install --no-cache-dir --disable-pip-version-check "
            f"--no-color --require-hashes -r /atom/{LOCK_NAME}"
        )
    lines.append("RUN /atom/env/bin/python /atom/verify.py")
    return "\n".join(lines) + "\n"


# Inside the image: read the wanted distributions from a file, fail the build on a failure.
IMAGE_VERIFY = (
    "import sys\nsys.argv[1:] = [open('/atom/wanted.json').read()]\n"
    + PYTHON_VERIFY
    + "\nsys.exit(1 if failures else 0)\n"
)


class DockerBackend(Backend):
    name = "docker"

    def location_for(self, key: str) -> str:
        return f"{IMAGE_REPOSITORY}:{key}"

    def is_present(self, location: str) -> bool:
        """Whether the image exists; `BackendUnavailable` when no engine answers, since an
        engine that is down says nothing about its images (they must not be rebuilt)."""
        import docker

        try:
            docker_client().images.get(location)
        except docker.errors.ImageNotFound:
            return False
        return True

    def check(self, *, spec: EnvironmentSpec, location: str, log: LogWriter) -> None:
        # Its imports were verified inside the image when it was built; an image is immutable.
        if not self.is_present(location):
            raise VerificationError(f"image {location} is missing")

    def remove(self, location: str) -> None:
        import docker

        try:
            docker_client().images.remove(location, force=True)
        except (BackendUnavailable, docker.errors.ImageNotFound):
            pass

    def resolve(self, *, spec: EnvironmentSpec, log: LogWriter) -> str:
        return UvBackend().resolve(spec=spec, log=log)

    def build(self, *, spec: EnvironmentSpec, workdir: Path, log: LogWriter) -> BuildResult:
        client = docker_client()  # fail fast, before resolving anything
        started = time.perf_counter()
        resolver = UvBackend()
        lockfile, known = resolver.lock_for(spec=spec, log=log)
        resolved = time.perf_counter()
        workdir.mkdir(parents=True)
        (workdir / LOCK_NAME).write_text(lockfile)
        (workdir / "verify.py").write_text(IMAGE_VERIFY)
        (workdir / "wanted.json").write_text(json.dumps(verify_wanted(spec)))
        (workdir / "Dockerfile").write_text(dockerfile(spec))
        tag = self.location_for(spec.key)
        log(f"docker build {tag} from {spec.base_image}")
        error = ""
        for chunk in client.api.build(
            path=str(workdir),
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            pull=False,
            network_mode=settings.ATOM_DOCKER_BUILD_NETWORK or None,
        ):
            for line in ANSI.sub("", str(chunk.get("stream", ""))).splitlines():
                if line.strip():
                    log(line)
            if "error" in chunk:
                error = ANSI.sub("", str(chunk["error"])).strip()
                log(error)
        if error:
            failure = VerificationError if "/atom/verify.py" in error else InstallError
            raise failure(f"docker build failed: {error.splitlines()[0][:500]}", output=error)
        image = client.images.get(tag)
        if not known:  # installed and verified inside the image
            resolver.lock_keep(spec=spec, lockfile=lockfile)
        return BuildResult(
            lockfile=lockfile,
            location=tag,
            size_bytes=int(image.attrs.get("Size") or 0),
            resolve_seconds=resolved - started,
            install_seconds=time.perf_counter() - resolved,
        )
