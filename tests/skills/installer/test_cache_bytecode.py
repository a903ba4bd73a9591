"""Bytecode is compiled once in uv's cache and hardlinked into every later environment."""

import sys
import threading
from pathlib import Path

import pytest

from skills.installer.builder import environment_ensure
from skills.installer.bytecode import (
    bytecode_marker_dir,
    bytecode_markers_prune,
    cache_bytecode_compile,
)
from skills.installer.maintenance import environment_delete
from tests.skills.installer.conftest import python_in

pytestmark = pytest.mark.django_db(transaction=True)

TAG = sys.implementation.cache_tag  # environments are built for the interpreter running Atom


def background_compiles_finish() -> None:
    for thread in threading.enumerate():
        if thread.name == "uv-cache-bytecode":
            thread.join(timeout=120)


def site_packages(location: str) -> Path:
    [found] = Path(location).glob("lib/python*/site-packages")
    return found


def test_a_ready_build_compiles_its_cached_wheels_for_the_next_environment(
    envs_dir: Path, settings, tmp_path: Path
):
    settings.ATOM_UV_CACHE_DIR = tmp_path / "uv-cache"  # cold: nothing compiled yet
    first = environment_ensure(language="python", requirements=["six"])
    background_compiles_finish()

    [archive] = (settings.ATOM_UV_CACHE_DIR / "archive-v0").iterdir()
    cached = archive / "__pycache__" / f"six.{TAG}.pyc"
    assert cached.is_file()
    assert [marker.name for marker in bytecode_marker_dir().iterdir()] == [f"{archive.name}.{TAG}"]
    # Marked: a second pass compiles nothing.
    assert cache_bytecode_compile(python=str(first.python_path), location=first.location) == []

    environment_delete(environment_pk=first.pk)
    second = environment_ensure(language="python", requirements=["six"])

    linked = site_packages(second.location) / "__pycache__" / f"six.{TAG}.pyc"
    assert linked.stat().st_ino == cached.stat().st_ino
    assert python_in(second, "import six").returncode == 0
    assert cached.stat().st_ino == linked.stat().st_ino  # the import left the cache's copy alone


def test_markers_of_archives_uv_pruned_are_forgotten(settings, tmp_path: Path):
    settings.ATOM_UV_CACHE_DIR = tmp_path / "uv-cache"
    (settings.ATOM_UV_CACHE_DIR / "archive-v0" / "kept").mkdir(parents=True)
    bytecode_marker_dir().mkdir()
    (bytecode_marker_dir() / f"kept.{TAG}").touch()
    (bytecode_marker_dir() / f"gone.{TAG}").touch()

    assert bytecode_markers_prune() == 1

    assert [marker.name for marker in bytecode_marker_dir().iterdir()] == [f"kept.{TAG}"]
