"""Runs the side-by-side shapes on Prefect 3 in one warm process and prints their durations as
JSON. Run by the Python of Prefect's own environment (`bin/bench-peers` builds it), with
Prefect's ephemeral local server (no cloud, no server of ours): `python prefect_run.py`.

Chains are plain calls in the flow (Prefect's fastest way to run steps one after another);
other shapes submit each task with `wait_for` its parents to the default thread pool runner.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prefect import flow, task  # noqa: E402
from shapes import SHAPES, Step  # noqa: E402


@task
def noop(value=None, seconds: float = 0.0) -> dict:
    if seconds:
        time.sleep(seconds)
    return {"value": value}


@flow
def run_shape(steps: list[Step]) -> int:
    is_chain = all(len(parents) <= 1 for _, parents, _ in steps) and all(
        parents == (steps[i - 1][0],) for i, (_, parents, _) in enumerate(steps) if i
    )
    if is_chain:
        for step_id, _, seconds in steps:
            noop(value=step_id, seconds=seconds)
        return len(steps)
    futures = {}
    for step_id, parents, seconds in steps:
        futures[step_id] = noop.submit(
            value=step_id, seconds=seconds, wait_for=[futures[parent] for parent in parents]
        )
    for future in futures.values():
        future.result()
    return len(steps)


def main() -> None:
    import prefect

    results = {"peer": f"Prefect {prefect.__version__}", "shapes": {}}
    run_shape(steps=SHAPES["chain of 10"][0])  # starts the ephemeral server, warms the process
    for name, (steps, repetitions) in SHAPES.items():
        run_shape(steps=steps)  # warm-up
        durations = []
        for _ in range(repetitions):
            started = time.perf_counter()
            run_shape(steps=steps)
            durations.append(time.perf_counter() - started)
        results["shapes"][name] = {"median": statistics.median(durations), "runs": durations}
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
