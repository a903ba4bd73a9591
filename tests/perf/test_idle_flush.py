"""Samples reach the database at most PERF_FLUSH_INTERVAL after they are taken, even in a
process that then does nothing: no request, no task, no exit to flush them."""

import signal
import subprocess
import sys
import time

import pytest

from perf.models import Sample

RECORD_THEN_IDLE = """
import sys, time
import django
django.setup()
from perf.recording import record_sample
record_sample("idle_flush_probe", 0.25, skill=sys.argv[1])
print("recorded", flush=True)
time.sleep(120)
"""


@pytest.mark.django_db(transaction=True)
def test_a_sample_of_an_idle_process_is_written_within_the_flush_interval(process_env):
    interval = 0.5
    idle = subprocess.Popen(
        [sys.executable, "-c", RECORD_THEN_IDLE, "idle-probe"],
        env={**process_env, "ATOM_PERF_FLUSH_INTERVAL": str(interval)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert idle.stdout.readline() == "recorded\n", idle.stderr.read()
        recorded = time.monotonic()
        rows = Sample.objects.filter(operation="idle_flush_probe", skill="idle-probe")
        # The interval, plus a margin for a busy machine (2 shared cores).
        while not rows.exists() and time.monotonic() - recorded < interval + 5:
            time.sleep(0.05)
        waited = time.monotonic() - recorded

        assert rows.count() == 1
        assert waited < interval + 5
        assert idle.poll() is None  # still idle: written by the timer, not at exit
    finally:
        idle.send_signal(signal.SIGKILL)
        idle.wait()
    assert list(rows.values_list("duration", flat=True)) == [0.25]
