"""Container-backed calls, for environments the installer built as Docker images.

A call is one short-lived container of the environment's image (``atom-env:<key>``), running
the same runner.py in its one-shot mode: the request goes in through a mounted directory, the
answer comes back the same way, and the skill's own output is the container's log. The
container has the memory and CPU limits of the installs issue (``docker_run_options``), no
network unless allowed, a read-only root with a private /tmp, no capabilities and a process
cap. The engine must be on this host, since the call directory is a bind mount.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skills.runtime.calls import (
    TIMEOUT,
    CallResult,
    CapturedOutput,
    failure_result,
    result_from_answer,
)
from skills.runtime.config import CallLimits, RuntimeConfig
from skills.runtime.process import BoundedBuffer
from skills.runtime.sandbox import PYTHON_RUNNER

CONTAINER_PYTHON = "/atom/env/bin/python"
START_GRACE_SECONDS = 30.0  # pulling nothing, but creating and starting a container
CONTAINER_DIED = "ContainerDied"
CALL_FILES = ("/atom/call/request.json", "/atom/call/answer.json")


class DockerUnavailable(RuntimeError):
    """No Docker engine answers; the message is one line saying where it looked."""


def docker_engine():
    """A connected client from the installer's settings (``ATOM_DOCKER_URL``)."""
    from skills.installer.backends.base import BackendUnavailable
    from skills.installer.backends.docker import docker_client

    try:
        return docker_client()
    except BackendUnavailable as error:
        raise DockerUnavailable(
            f"container-backed calls are unavailable: {str(error).splitlines()[0]}"
        ) from None


def docker_call(
    *,
    image: str,
    skill_id: str,
    path: Path | str,
    content_hash: str | None = None,
    entrypoint: str = "run",
    params: Mapping[str, Any] | None = None,
    limits: CallLimits | None = None,
    source: str | None = None,
    network: bool = False,
    interpreter: str = CONTAINER_PYTHON,
    config: RuntimeConfig | None = None,
    client: Any = None,
) -> CallResult:
    """Run one call in a fresh container of ``image``; raises DockerUnavailable without an
    engine. The skill's source is sent with the request (the file is not mounted)."""
    from skills.installer.backends.docker import docker_run_options

    started = time.perf_counter()
    config = config or RuntimeConfig.from_settings()
    resolved = (limits or CallLimits()).resolved(config)
    client = client or docker_engine()
    text = source if source is not None else Path(path).read_text(encoding="utf-8")
    runner_limits = {**resolved.for_runner(), "alarm_seconds": resolved.timeout}
    request = {
        "op": "call",
        "skill_id": skill_id,
        "path": str(path),
        "content_hash": content_hash,
        "entrypoint": entrypoint,
        "params": dict(params or {}),
        "limits": runner_limits,
        "source": text,
    }
    call_dir = Path(tempfile.mkdtemp(prefix="atom-docker-call-"))
    container = None
    try:
        (call_dir / "request.json").write_text(json.dumps(request), encoding="utf-8")
        container = client.containers.run(
            image,
            [interpreter, "-I", "/atom/runner.py", "--once", *CALL_FILES],
            detach=True,
            volumes={
                str(PYTHON_RUNNER): {"bind": "/atom/runner.py", "mode": "ro"},
                str(call_dir): {"bind": "/atom/call", "mode": "rw"},
            },
            read_only=True,
            tmpfs={"/tmp": "size=64m"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=256,
            environment={"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"},
            **docker_run_options(memory=f"{resolved.memory_mb}m", network=network),
        )
        return _collect(container, call_dir, resolved.timeout, resolved.max_output_bytes, started)
    finally:
        if container is not None:
            container.remove(force=True)
        shutil.rmtree(call_dir, ignore_errors=True)


def _collect(
    container: Any, call_dir: Path, timeout: float, max_output_bytes: int, started: float
) -> CallResult:
    import requests

    try:
        status = container.wait(timeout=timeout + START_GRACE_SECONDS)
    except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
        container.kill()
        return failure_result(
            TIMEOUT,
            f"the container did not finish within its wall-clock limit of {timeout:g} s "
            f"(plus {START_GRACE_SECONDS:g} s to start); it was killed",
            started=started,
            runner_pid=None,
        )
    stdout = _logs(container, max_output_bytes, stdout=True)
    stderr = _logs(container, max_output_bytes, stdout=False)
    answer_path = call_dir / "answer.json"
    if not answer_path.exists():
        container.reload()
        state = container.attrs.get("State", {})
        how = (
            "was killed for exceeding its memory limit"
            if state.get("OOMKilled")
            else f"exited with code {status.get('StatusCode')}"
        )
        return failure_result(
            CONTAINER_DIED,
            f"the container {how} before it answered",
            started=started,
            runner_pid=None,
            output=(stdout, stderr),
        )
    answer = json.loads(answer_path.read_bytes())
    return result_from_answer(
        answer, stdout=stdout, stderr=stderr, started=started, runner_pid=None, is_replaced=False
    )


def _logs(container: Any, limit: int, *, stdout: bool) -> CapturedOutput:
    sink = BoundedBuffer(limit)
    for chunk in container.logs(stdout=stdout, stderr=not stdout, stream=True):
        sink.add(chunk)
    return sink.captured()
