"""Environment keys: one hash per (requirement set, interpreter, platform, backend, policy).

Every skill whose normalized requirement set is equal shares one environment, and anything
that would make an environment built under other conditions wrong for it (another interpreter
version, another platform, another backend, other policy rules) gives another key.
"""

import functools
import hashlib
import json
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from skills.installer.process import child_environment
from skills.requirements import requirements_normalize


@dataclass(frozen=True)
class Interpreter:
    """The program an environment is built for: its path, and the version that enters the key."""

    path: str
    version: str  # "cpython-3.12.1", "node-20.19.0"
    platform: str  # "linux-x86_64"


def python_interpreter_path() -> str:
    """`ATOM_INSTALL_PYTHON`, or the base interpreter Atom runs on (never Atom's own venv)."""
    configured = settings.ATOM_INSTALL_PYTHON
    if configured:
        return configured
    return str(running_interpreter_path())


@functools.cache
def running_interpreter_path() -> Path:
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def interpreter_is_running(interpreter: Interpreter) -> bool:
    """Whether environments are built for the very interpreter Atom runs on."""
    return Path(interpreter.path) == running_interpreter_path()


@functools.cache
def _python_interpreter(path: str) -> Interpreter:
    # The common case costs nothing: the configured interpreter is the one running Atom.
    running = running_interpreter_path()
    if Path(path).resolve() == running:
        version = f"{sys.implementation.name}-{'.'.join(map(str, sys.version_info[:3]))}"
        return Interpreter(str(running), version, sysconfig.get_platform())
    probe = (
        "import sys, sysconfig; print(sys.implementation.name + '-' + "
        "'.'.join(map(str, sys.version_info[:3])), sysconfig.get_platform())"
    )
    try:
        result = subprocess.run(
            [path, "-c", probe],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env=child_environment(),
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise InterpreterError(f"ATOM_INSTALL_PYTHON={path!r} does not run ({error})") from None
    version, platform = result.stdout.split()
    return Interpreter(str(Path(path).resolve()), version, platform)


@functools.cache
def _node_interpreter(path: str) -> Interpreter:
    try:
        result = subprocess.run(
            [path, "-p", "process.version + ' ' + process.platform + '-' + process.arch"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env=child_environment(),
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise InterpreterError(f"ATOM_NODE_BIN={path!r} does not run ({error})") from None
    version, platform = result.stdout.split()
    return Interpreter(path, f"node-{version.lstrip('v')}", platform)


class InterpreterError(RuntimeError):
    pass


def interpreter_for(language: str) -> Interpreter:
    if language == "node":
        return _node_interpreter(settings.ATOM_NODE_BIN)
    return _python_interpreter(python_interpreter_path())


def backend_for(language: str) -> str:
    """The backend that builds environments for a language under the current settings."""
    if language == "node":
        return "npm"
    return settings.ATOM_INSTALL_BACKEND


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything an environment is built from; `key` names it."""

    language: str
    requirements: tuple[str, ...]  # normalized and sorted
    backend: str
    interpreter: Interpreter
    policy_version: str
    base_image: str = ""  # Docker only

    @property
    def key(self) -> str:
        return environment_key(
            language=self.language,
            requirements=list(self.requirements),
            backend=self.backend,
            interpreter_version=self.interpreter.version,
            platform=self.interpreter.platform,
            policy_version=self.policy_version,
            base_image=self.base_image,
        )


def environment_key(
    *,
    language: str,
    requirements: list[str],
    backend: str,
    interpreter_version: str,
    platform: str,
    policy_version: str,
    base_image: str = "",
) -> str:
    """The 32-hex-digit key of an environment (requirements must already be normalized)."""
    material = {
        "language": language,
        "requirements": sorted(requirements),
        "backend": backend,
        "interpreter": interpreter_version,
        "platform": platform,
        "policy": policy_version,
    }
    if base_image:
        material["base_image"] = base_image
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def lock_key(*, spec: EnvironmentSpec, resolver: str) -> str:
    """The key of a kept resolution: the same set resolved for the same interpreter, platform
    and index is never resolved twice (policy does not change what a set resolves to)."""
    material = {
        "language": spec.language,
        "requirements": list(spec.requirements),
        "interpreter": spec.interpreter.version,
        "platform": spec.interpreter.platform,
        "resolver": resolver,
        # Only Atom's setting: installers never see the caller's UV_INDEX_URL (process.py).
        "index": settings.ATOM_INSTALL_INDEX_URL,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def environment_spec(
    *, language: str, requirements: list[str], policy_version: str, backend: str | None = None
) -> EnvironmentSpec:
    """Normalize a requirement list (raises `RequirementError`) and fix what it is built with."""
    normalized = requirements_normalize(language, requirements)
    backend = backend or backend_for(language)
    return EnvironmentSpec(
        language=language,
        requirements=tuple(normalized),
        backend=backend,
        interpreter=interpreter_for(language),
        policy_version=policy_version,
        base_image=settings.ATOM_DOCKER_BASE_IMAGE if backend == "docker" else "",
    )
