"""Backends build an environment into a private directory; `backend_get` picks one by name."""

from skills.installer.backends.base import (
    Backend,
    BackendUnavailable,
    BuildResult,
    IndexUnreachableError,
    InstallError,
    ResolutionError,
    VerificationError,
)


def backend_get(name: str) -> Backend:
    if name == "uv":
        from skills.installer.backends.uv import UvBackend

        return UvBackend()
    if name == "pip":
        from skills.installer.backends.pip import PipBackend

        return PipBackend()
    if name == "npm":
        from skills.installer.backends.npm import NpmBackend

        return NpmBackend()
    if name == "docker":
        from skills.installer.backends.docker import DockerBackend

        return DockerBackend()
    raise BackendUnavailable(f"unknown install backend {name!r} (use uv, pip, npm or docker)")


__all__ = [
    "Backend",
    "BackendUnavailable",
    "BuildResult",
    "IndexUnreachableError",
    "InstallError",
    "ResolutionError",
    "VerificationError",
    "backend_get",
]
