"""Atom and Prefect side by side on the same workflow shapes (`shapes.py`), run by
`make bench-peers` (not by `make bench`: it needs Prefect, which bin/bench-peers installs into
its own environment and names in ATOM_PEERS_PREFECT_PYTHON).

Prefect runs first, alone, in one warm process of its own environment (`prefect_run.py`); then
a django-q2 cluster with the default workers runs each shape on Atom as the workflow
benchmarks do (runners in their sandbox, warmed first), timed from `run_start` to the run's
`finished_at`. Each side: one warm-up run of each shape, then the median of the same number of
runs. The table goes out through `note`, past pytest's capture.
"""

import json
import os
import statistics
import subprocess
from pathlib import Path

import pytest

from benchmarks.peers.shapes import SHAPES, Step
from benchmarks.test_workflows import (  # noqa: F401 (cluster_start: a fixture)
    cluster_start,
    connection_vendor,
    run_timed,
    workers_warm,
    workflow_of,
)

PREFECT_PYTHON = os.environ.get("ATOM_PEERS_PREFECT_PYTHON", "")
HERE = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.skipif(not PREFECT_PYTHON, reason="run by make bench-peers (it installs Prefect)"),
    pytest.mark.django_db(transaction=True),
]


def prefect_durations() -> dict:
    """The shapes run on Prefect: `{"peer": "Prefect 3.x", "shapes": {name: {median, runs}}}`."""
    done = subprocess.run(
        [PREFECT_PYTHON, str(HERE / "prefect_run.py")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode:
        raise AssertionError(f"Prefect's side failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def atom_steps(steps: list[Step]) -> list[dict]:
    return [
        {
            "id": step_id,
            "skill": "bench-nap" if seconds else "bench-noop",
            "params": {"seconds": seconds} if seconds else {"value": index},
            "depends_on": list(parents),
        }
        for index, (step_id, parents, seconds) in enumerate(steps)
    ]


def test_atom_and_prefect_side_by_side(benchmark, note, cluster_start):  # noqa: F811
    prefect = prefect_durations()  # before the cluster starts: each side has the cores alone
    cluster = cluster_start()
    workers_warm(cluster)
    atom: dict[str, list[float]] = {}

    def measure() -> None:
        for index, (name, (steps, repetitions)) in enumerate(SHAPES.items()):
            workflow = workflow_of(f"peers-shape-{index}", atom_steps(steps))
            run_timed(workflow, cluster)  # warm-up
            atom[name] = [run_timed(workflow, cluster)[0] for _ in range(repetitions)]

    benchmark.pedantic(measure, rounds=1, iterations=1)
    peer = prefect["peer"]
    lines = [
        f"side by side ({connection_vendor()}; medians; ratio = {peer} ÷ Atom):",
        f"{'shape':<22} {'steps':>5} {'Atom':>9} {peer:>15} {'ratio':>7}",
    ]
    for name, (steps, _) in SHAPES.items():
        ours = statistics.median(atom[name])
        theirs = prefect["shapes"][name]["median"]
        lines.append(
            f"{name:<22} {len(steps):>5} {ours:>8.3f}s {theirs:>14.3f}s {theirs / ours:>6.1f}×"
        )
    per_step = {side: runs / 40 * 1e3 for side, runs in (
        ("Atom", statistics.median(atom["chain of 40"])),
        (peer, prefect["shapes"]["chain of 40"]["median"]),
    )}  # fmt: skip
    lines.append(
        "per step on the chain of 40: "
        + ", ".join(f"{side} {ms:.1f} ms" for side, ms in per_step.items())
    )
    note("\n  ".join(lines))
