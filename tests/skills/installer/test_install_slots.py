"""MAX_CONCURRENT_INSTALLATIONS holds across processes: builds claim a slot in the database."""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from skills.installer.slots import slot_release, slot_try_claim
from skills.models import Environment, EnvironmentStatus, InstallSlot
from tests.skills.installer.conftest import python_in

pytestmark = pytest.mark.django_db(transaction=True)


def ensure(manage_py: list[str], env: dict[str, str], *requirements: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*manage_py, "envs", "ensure", "--language", "python", *requirements],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_build_waits_while_every_slot_is_held_by_another_process(
    manage_py: list[str], installer_env: dict[str, str], envs_dir: Path, settings
):
    settings.MAX_CONCURRENT_INSTALLATIONS = 1
    held = slot_try_claim(environment_key="held-by-this-test")
    assert held is not None
    builder = ensure(manage_py, {**installer_env, "MAX_CONCURRENT_INSTALLATIONS": "1"}, "six")

    deadline = time.monotonic() + 60
    while not Environment.objects.filter(status=EnvironmentStatus.BUILDING).exists():
        assert builder.poll() is None, builder.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(1.0)  # long enough for an unlimited build of `six` to have finished
    assert builder.poll() is None
    assert Environment.objects.get().status == EnvironmentStatus.BUILDING
    assert not (envs_dir / ".tmp" / "slot-0").exists()

    slot_release(held)
    stdout, stderr = builder.communicate(timeout=120)

    assert builder.returncode == 0, stderr
    assert "waiting for an install slot" in stderr
    environment = Environment.objects.get()
    assert json.loads(stdout.strip().splitlines()[-1])["key"] == environment.key
    assert environment.status == EnvironmentStatus.READY
    assert python_in(environment, "import six").returncode == 0
    assert list(InstallSlot.objects.values_list("number", "token")) == [(0, "")]


def test_builds_in_separate_processes_never_overlap_beyond_the_limit(
    manage_py: list[str], installer_env: dict[str, str], envs_dir: Path
):
    sets = [["six"], ["iniconfig"], ["packaging"]]
    env = {**installer_env, "MAX_CONCURRENT_INSTALLATIONS": "1"}
    builders = [ensure(manage_py, env, *wanted) for wanted in sets]
    for builder in builders:
        _, stderr = builder.communicate(timeout=240)
        assert builder.returncode == 0, stderr

    environments = list(Environment.objects.order_by("ready_at"))
    assert [environment.status for environment in environments] == ["ready"] * 3
    spans = [
        (environment.ready_at - timedelta(seconds=environment.build_seconds), environment.ready_at)
        for environment in environments
    ]
    for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
        assert earlier_end <= later_start
    assert list(InstallSlot.objects.values_list("number", "token")) == [(0, "")]


def test_the_lowest_free_slot_is_taken_and_none_when_all_are_held(settings):
    settings.MAX_CONCURRENT_INSTALLATIONS = 2

    first = slot_try_claim(environment_key="a")
    second = slot_try_claim(environment_key="b")
    third = slot_try_claim(environment_key="c")

    assert (first.number, second.number, third) == (0, 1, None)
    assert first.directory_name == "slot-0"
    slot_release(first)
    assert slot_try_claim(environment_key="d").number == 0
    held = InstallSlot.objects.get(number=1)
    assert (held.environment_key, held.host, held.pid) == ("b", socket.gethostname(), os.getpid())


def test_a_slot_whose_holder_died_is_taken_over(settings):
    settings.MAX_CONCURRENT_INSTALLATIONS = 1
    InstallSlot.objects.create(
        number=0,
        token="dead",
        host=socket.gethostname(),
        pid=dead_pid(),
        heartbeat_at=timezone.now(),
    )

    claim = slot_try_claim(environment_key="next")

    assert claim.number == 0
    assert InstallSlot.objects.get(number=0).token == claim.token


def test_a_slot_with_a_stale_heartbeat_on_another_host_is_taken_over(settings):
    settings.MAX_CONCURRENT_INSTALLATIONS = 1
    stale = timezone.now() - timedelta(seconds=settings.ATOM_INSTALL_STALE_SECONDS + 1)
    InstallSlot.objects.create(number=0, token="far", host="elsewhere", pid=1, heartbeat_at=stale)

    assert slot_try_claim(environment_key="next").number == 0


def test_a_live_holder_on_another_host_keeps_its_slot(settings):
    settings.MAX_CONCURRENT_INSTALLATIONS = 1
    InstallSlot.objects.create(
        number=0, token="far", host="elsewhere", pid=1, heartbeat_at=timezone.now()
    )

    assert slot_try_claim(environment_key="next") is None
    assert InstallSlot.objects.get(number=0).token == "far"
