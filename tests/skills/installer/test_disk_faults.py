"""The data directory's disk full, and the environments folder not writable: an install fails
with a clear error, leaves no half-built environment and marks nothing ready; once the disk has
room again the same install succeeds. Real mounts (a small tmpfs; root is needed: root ignores
permissions, so "not writable" is a read-only mount)."""

import contextlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from skills.models import Environment, EnvironmentStatus
from tests.faults import needs
from tests.skills.installer.conftest import temp_dirs, unique_requirement

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str, read_only: bool = False):
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    needs(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def can_mount():
    needs(os.geteuid() == 0, "mounting a tmpfs needs root")


def ensure(manage_py, env, requirement: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*manage_py, "envs", "ensure", "--backend", "uv", requirement],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def fill(directory: Path, *, leave_bytes: int) -> Path:
    """Fill the filesystem of `directory`, leaving about `leave_bytes` free."""
    stats = os.statvfs(directory)
    free = stats.f_bavail * stats.f_frsize
    filler = directory / "filler"
    with filler.open("wb") as output:
        output.truncate(0)
        chunk = b"\0" * 65536
        left = max(0, free - leave_bytes)
        while left > 0:
            output.write(chunk[: min(len(chunk), left)])
            left -= len(chunk)
    return filler


def test_a_full_data_disk_fails_the_install_clearly_and_leaves_nothing_ready(
    can_mount, manage_py, installer_env, tmp_path
):
    requirement = unique_requirement("iniconfig")
    with tmpfs(tmp_path / "data", size="8m") as data_dir:
        envs = data_dir / "envs"
        env = {**installer_env, "ATOM_DATA_DIR": str(data_dir), "ATOM_ENVS_DIR": str(envs)}
        envs.mkdir()
        filler = fill(data_dir, leave_bytes=16 * 1024)

        done = ensure(manage_py, env, requirement)

        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert "No space left on device" in done.stderr, done.stderr[-3000:]
        environment = Environment.objects.get()
        assert environment.status == EnvironmentStatus.FAILED
        assert "No space left on device" in environment.error
        assert not Path(environment.location).exists()
        assert temp_dirs(envs) == []
        locks = data_dir / "locks"
        assert not locks.exists() or not any(locks.iterdir())  # no lock kept for a failed set

        filler.unlink()  # room again: the same install succeeds, nothing left in its way
        again = ensure(manage_py, env, requirement)

        assert again.returncode == 0, again.stderr[-3000:]
        environment.refresh_from_db()
        assert environment.status == EnvironmentStatus.READY
        assert json.loads(again.stdout)["location"] == environment.location
        assert Path(environment.location, "bin", "python").exists()


def test_an_environments_folder_that_is_not_writable_fails_clearly_and_marks_nothing_ready(
    can_mount, manage_py, installer_env, tmp_path
):
    requirement = unique_requirement("iniconfig")
    with tmpfs(tmp_path / "envs", size="1m", read_only=True) as envs:
        done = ensure(manage_py, {**installer_env, "ATOM_ENVS_DIR": str(envs)}, requirement)

    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "Read-only file system" in done.stderr, done.stderr[-3000:]
    assert str(envs) in done.stderr
    environment = Environment.objects.get()
    assert environment.status == EnvironmentStatus.FAILED
    assert "Read-only file system" in environment.error


def test_an_environments_disk_that_fills_during_the_install_leaves_no_half_environment(
    can_mount, manage_py, installer_env, tmp_path
):
    # The uv cache elsewhere: resolution and downloads succeed, the copy into the new
    # environment (idna: about 600 KB) runs out of room part of the way through.
    requirement = unique_requirement("idna")
    with tmpfs(tmp_path / "envs", size="4m") as envs:
        filler = fill(envs, leave_bytes=300 * 1024)
        env = {**installer_env, "ATOM_ENVS_DIR": str(envs)}

        done = ensure(manage_py, env, requirement)

        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert "No space left on device" in done.stderr, done.stderr[-3000:]
        environment = Environment.objects.get()
        assert environment.status == EnvironmentStatus.FAILED
        assert not Path(environment.location).exists()
        assert temp_dirs(envs) == []
        assert sorted(path.name for path in envs.iterdir()) == [".tmp", "filler"]

        filler.unlink()
        again = ensure(manage_py, env, requirement)

        assert again.returncode == 0, again.stderr[-3000:]
        environment.refresh_from_db()
        assert environment.status == EnvironmentStatus.READY
