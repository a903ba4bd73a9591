"""Fixtures for the runtime: skill files in temporary directories and pools of real runners."""

import hashlib
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skills.runtime import PoolRegistry, RunnerPool, RuntimeConfig, bwrap_executable
from skills.runtime.cgroups import cgroup_support

NODE = shutil.which("node")


def missing(reason: str) -> None:
    """Skip a test this machine cannot run, but fail it in CI, whose machine has everything."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: its machine must have it)")
    pytest.skip(reason)


@pytest.fixture(params=["none", "bwrap"])
def sandbox(request: pytest.FixtureRequest) -> str:
    """Each runner test runs once as a plain process and once under bubblewrap."""
    if request.param == "bwrap" and bwrap_executable() is None:
        missing("bubblewrap is not installed (or cannot create namespaces) here")
    return request.param


@pytest.fixture
def cgroups() -> None:
    """For tests of limits that count every descendant."""
    support = cgroup_support()
    if not support.is_available:
        missing(f"cgroups are {support.describe()}")


@pytest.fixture
def cgroups_counting_cpu(cgroups) -> None:
    """For tests of a call's CPU time, every process together."""
    if not cgroup_support().counts_cpu:
        missing("no cgroup here counts a group's CPU time (v1 cpuacct, or v2)")


@pytest.fixture
def write_skill(tmp_path: Path) -> Callable[..., Path]:
    """Write a skill file (dedented) and return its path; the same name overwrites."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / "skills" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    return write


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def make_registry(sandbox: str) -> Iterator[Callable[..., PoolRegistry]]:
    """Registries with a test's own config; every runner they start is stopped afterwards."""
    registries: list[PoolRegistry] = []

    def make(**changes: object) -> PoolRegistry:
        settings = {
            "sandbox": sandbox,
            "min_runners": 1,
            "max_runners": 2,
            "record_timings": False,
            "start_timeout": 20.0,
            "acquire_timeout": 30.0,
        }
        settings.update(changes)
        registry = PoolRegistry(RuntimeConfig(**settings))
        registries.append(registry)
        return registry

    yield make
    for registry in registries:
        registry.shutdown()


@pytest.fixture
def python_pool(make_registry: Callable[..., PoolRegistry]) -> RunnerPool:
    return make_registry().pool_for("test-python", sys.executable, "python")
