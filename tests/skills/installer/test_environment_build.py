"""Building environments with uv: verified, content-addressed, shared, never half-built."""

import shutil
from pathlib import Path

import pytest

from skills.installer.backends import (
    IndexUnreachableError,
    ResolutionError,
    VerificationError,
)
from skills.installer.builder import environment_ensure
from skills.installer.keys import environment_spec
from skills.models import Environment, EnvironmentStatus
from tests.skills.installer.conftest import python_in, temp_dirs

pytestmark = pytest.mark.django_db


def test_it_builds_a_verified_environment_with_a_hashed_lock(envs_dir: Path):
    environment = environment_ensure(language="python", requirements=["six"])

    assert environment.status == EnvironmentStatus.READY
    assert environment.backend == "uv"
    assert environment.requirements == ["six"]
    assert Path(environment.location) == envs_dir / environment.key
    assert environment.python_path == envs_dir / environment.key / "bin" / "python"
    assert "six==" in environment.lockfile
    assert "--hash=sha256:" in environment.lockfile
    assert environment.size_bytes > 0
    assert environment.build_seconds > 0
    assert (environment.build_count, environment.use_count) == (1, 1)
    imported = python_in(environment, "import six, sys; print(six.__name__, sys.prefix)")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["six", str(envs_dir / environment.key)]
    assert temp_dirs(envs_dir) == []


def test_a_second_request_is_a_cache_hit(envs_dir: Path):
    first = environment_ensure(language="python", requirements=["six"])

    second = environment_ensure(language="python", requirements=["SIX"])

    # The row the hit's one UPDATE … RETURNING handed back, before any refresh.
    assert (second.pk, second.python_path, second.lockfile) == (
        first.pk,
        first.python_path,
        first.lockfile,
    )
    assert (second.use_count, second.requirements) == (2, ["six"])
    assert second.last_used_at > first.last_used_at
    second.refresh_from_db()
    assert (second.build_count, second.use_count) == (1, 2)
    assert Environment.objects.count() == 1


def test_the_environment_is_isolated_from_atoms_own_packages(envs_dir: Path):
    environment = environment_ensure(language="python", requirements=["six"])

    result = python_in(environment, "import django")

    assert result.returncode == 1
    assert "No module named 'django'" in result.stderr


def test_a_broken_environment_fails_verification_and_leaves_nothing(envs_dir: Path):
    # nose 1.3.7 installs cleanly but imports `imp`, which Python 3.12 removed.
    with pytest.raises(VerificationError) as raised:
        environment_ensure(language="python", requirements=["nose==1.3.7"])

    assert "import nose failed" in raised.value.message
    assert "No module named 'imp'" in raised.value.message
    environment = Environment.objects.get()
    assert environment.status == EnvironmentStatus.FAILED
    assert "No module named 'imp'" in environment.error
    assert not Path(environment.location).exists()
    assert temp_dirs(envs_dir) == []


def test_a_package_missing_from_the_index_fails_the_build(envs_dir: Path):
    with pytest.raises(ResolutionError) as raised:
        environment_ensure(language="python", requirements=["atom-no-such-package-zq9"])

    assert "atom-no-such-package-zq9" in raised.value.message
    assert "No solution found" in raised.value.output
    environment = Environment.objects.get()
    assert environment.status == EnvironmentStatus.FAILED
    assert not Path(environment.location).exists()


def test_an_unreachable_index_fails_clearly_and_a_retry_builds(
    envs_dir: Path, settings, free_port: int, monkeypatch
):
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    settings.ATOM_INSTALL_INDEX_URL = f"http://127.0.0.1:{free_port}/simple"
    requirement = "iniconfig<2.0.1,>=1.0"  # a set no other test resolved: no kept lock

    with pytest.raises(IndexUnreachableError) as raised:
        environment_ensure(language="python", requirements=[requirement])

    assert raised.value.message.startswith("resolution: the package index is unreachable")
    assert f"127.0.0.1:{free_port}" in raised.value.output
    assert Environment.objects.get().status == EnvironmentStatus.FAILED

    settings.ATOM_INSTALL_INDEX_URL = ""
    environment = environment_ensure(language="python", requirements=[requirement])

    assert environment.status == EnvironmentStatus.READY
    assert environment.build_count == 2
    assert python_in(environment, "import iniconfig").returncode == 0


def test_a_deleted_environment_directory_is_detected_and_rebuilt(envs_dir: Path):
    first = environment_ensure(language="python", requirements=["six"])
    shutil.rmtree(first.location)

    again = environment_ensure(language="python", requirements=["six"])

    assert again.pk == first.pk
    assert again.status == EnvironmentStatus.READY
    assert again.build_count == 2
    assert python_in(again, "import six").returncode == 0


def test_the_lock_is_kept_and_reused_offline(envs_dir: Path):
    first = environment_ensure(language="python", requirements=["six"])
    shutil.rmtree(first.location)

    Environment.objects.filter(pk=first.pk).update(lockfile="")
    again = environment_ensure(language="python", requirements=["six"])

    assert again.lockfile == first.lockfile
    assert again.jobs.count() == 0


def test_the_key_depends_on_the_set_not_its_spelling(settings):
    def key(requirements: list[str], **changes) -> str:
        for name, value in changes.items():
            setattr(settings, name, value)
        return environment_spec(
            language="python", requirements=requirements, policy_version="p1"
        ).key

    same = key(["Six>=1.0", "iniconfig"])

    assert key(["iniconfig", "six >= 1.0", "six>=1.0"]) == same
    assert key(["six>=1.1", "iniconfig"]) != same
    assert key(["six>=1.0"]) != same
    assert key(["Six>=1.0", "iniconfig"], ATOM_INSTALL_BACKEND="pip") != same
    assert (
        environment_spec(
            language="python", requirements=["Six>=1.0", "iniconfig"], policy_version="p2"
        ).key
        != same
    )
