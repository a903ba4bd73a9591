"""The load test's short version, in the suite: the real stack (`manage.py up`: uvicorn and a
two-worker django-q2 cluster) under 50 clients for 6 s, with zero errors (`make loadtest` runs
the full minute, and `--minutes` soaks)."""

import subprocess

import pytest

from atom_site.loadtest import SOAK_WARMUP_SECONDS, WARMUP_SECONDS, warmup_seconds


@pytest.mark.timeout(900)
def test_fifty_clients_for_six_seconds_meet_zero_errors(manage_py, process_env, tmp_path):
    done = subprocess.run(
        [*manage_py, "loadtest", "--clients", "50", "--seconds", "6", "--warmup", "2",
         "--data-dir", str(tmp_path)],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=840,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "50 clients, 6 s, 2 workers:" in done.stdout
    assert ", 0 errors" in done.stdout
    table = done.stdout.split("| operation |", 1)[1]
    for operation in ("search", "skill run", "install", "workflow start"):
        assert f"| {operation} | " in table
    assert "| web (uvicorn) |" in done.stdout
    assert "Zero errors; memory within bounds." in done.stdout


def test_a_soak_warms_up_until_the_caches_are_full_unless_told_otherwise():
    assert warmup_seconds(None, soak=False) == WARMUP_SECONDS
    assert warmup_seconds(None, soak=True) == SOAK_WARMUP_SECONDS > 90  # caches full by 90 s
    assert warmup_seconds(2, soak=True) == 2
