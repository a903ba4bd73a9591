"""Installer fixtures: a private environments directory per test, one uv cache per session
(ATOM_DATA_DIR/uv-cache: same filesystem, so installs hardlink from it and stay fast)."""

import subprocess
from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture
def envs_dir(settings, tmp_path: Path) -> Path:
    # tmp_path and the test data dir both live under $TMPDIR: one filesystem, as in production.
    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    return settings.ATOM_ENVS_DIR


@pytest.fixture
def installer_env(process_env: dict[str, str], envs_dir: Path) -> dict[str, str]:
    """process_env for a subprocess that installs into this test's environments directory."""
    return {**process_env, "ATOM_ENVS_DIR": str(envs_dir)}


def python_in(environment, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(environment.python_path), "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )


def temp_dirs(envs_dir: Path) -> list[str]:
    root = envs_dir / ".tmp"
    return sorted(path.name for path in root.iterdir()) if root.is_dir() else []


def unique_requirement(name: str = "iniconfig") -> str:
    """A spelling of a small package that no other test resolved (no kept lock yet)."""
    import uuid

    return f"{name}>=0.{uuid.uuid4().int % 10**6}.0a0"


__all__ = ["python_in", "settings", "temp_dirs", "unique_requirement"]
