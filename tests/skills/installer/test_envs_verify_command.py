"""`manage.py envs verify [--repair]`, run as a real command: every kept lock and every ready
environment checked; broken ones reported (exit 1), or discarded and rebuilt with --repair."""

import shutil
import subprocess

import pytest

from skills.installer.builder import environment_ensure
from skills.installer.locks import lock_path
from skills.models import Environment
from tests.skills.installer.conftest import python_in, unique_requirement


def envs_verify(manage_py, installer_env, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*manage_py, "envs", "verify", *options],
        env=installer_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def broken(installer_env):
    """One whole environment, one whose package was deleted, and one corrupt kept lock."""
    whole = environment_ensure(language="python", requirements=[unique_requirement("iniconfig")])
    damaged = environment_ensure(language="python", requirements=[unique_requirement("six")])
    (next(damaged.python_path.parent.parent.glob("lib/python*/site-packages")) / "six.py").unlink()
    corrupt = lock_path("f" * 32)
    corrupt.write_text("\x1b[2msix==1.16.0\x1b[0m\n")
    return whole, damaged, corrupt


def test_verify_reports_what_is_broken_and_exits_non_zero(manage_py, installer_env, broken):
    whole, damaged, corrupt = broken

    done = envs_verify(manage_py, installer_env)

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert f"lock {'f' * 32}: line 1: control character '\\x1b'" in lines
    assert f"environment {damaged.key}: verification failed: six: import six failed: " in (
        done.stdout
    )
    assert whole.key not in done.stdout
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("ready environment(s): 2 broken, 0 repaired, 2 left broken (run with --repair)")
    )
    # Nothing was changed.
    assert corrupt.exists()
    assert Environment.objects.get(pk=damaged.pk).status == "ready"


def test_verify_repair_discards_broken_locks_and_rebuilds_broken_environments(
    manage_py, installer_env, broken
):
    whole, damaged, corrupt = broken

    repaired = envs_verify(manage_py, installer_env, "--repair")

    assert repaired.returncode == 0, repaired.stderr
    assert "Traceback" not in repaired.stderr
    assert repaired.stdout.splitlines()[-1].endswith(
        "ready environment(s): 2 broken, 2 repaired, 0 left broken"
    )
    assert f"environment {damaged.key}: " in repaired.stdout
    assert "; rebuilt" in repaired.stdout
    assert not corrupt.exists()
    rebuilt = Environment.objects.get(pk=damaged.pk)
    assert rebuilt.status == "ready"
    assert rebuilt.build_count == 2
    assert python_in(rebuilt, "import six").returncode == 0
    assert Environment.objects.get(pk=whole.pk).build_count == 1

    again = envs_verify(manage_py, installer_env)

    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        again.stdout.splitlines()[-1]
    ]  # only the summary: nothing broken
    assert again.stdout.strip().endswith("0 broken, 0 repaired, 0 left broken")


def test_a_missing_environment_that_cannot_be_rebuilt_is_left_broken(
    manage_py, installer_env, broken
):
    whole, damaged, corrupt = broken
    shutil.rmtree(whole.location)
    # A row whose key is not what this host would build for it: not rebuilt under that key.
    Environment.objects.filter(pk=whole.pk).update(policy_version="another-policy")

    done = envs_verify(manage_py, installer_env, "--repair")

    assert done.returncode == 1
    assert f"environment {whole.key}: {whole.location} is missing; rebuild failed: " in (
        done.stdout
    )
    assert "1 left broken" in done.stderr
