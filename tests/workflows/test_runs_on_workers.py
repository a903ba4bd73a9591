"""Runs carried out by a real django-q2 cluster (three workers, each with its own runners):
parallel branches, a join released exactly once when its parents finish together on different
workers, a worker SIGKILLed in the middle of a step, and a running step cancelled.

The skills count their own executions in files (the cluster runs without the bubblewrap
sandbox here, so that a skill can write where the test reads): what ran is counted from the
skill's side, not only from the rows.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from tests.processes import qcluster
from workflows.engine import run_cancel, run_start, runs_reap
from workflows.models import StepRun, WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def cluster(process_env, engine_skills):
    yield from _cluster(process_env, workers=3)


@pytest.fixture
def one_worker(process_env, engine_skills):
    yield from _cluster(process_env, workers=1)


def _cluster(process_env, *, workers: int):
    with qcluster(
        process_env,
        ATOM_Q_WORKERS=str(workers),
        ATOM_SANDBOX="none",
        ATOM_STEP_HEARTBEAT_SECONDS="0.3",
    ) as process:
        yield process


def finished(run: WorkflowRun, cluster, *, within: float = 120) -> WorkflowRun:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        assert cluster.poll() is None, "the cluster stopped"
        time.sleep(0.1)
    raise AssertionError(f"run {run.pk} still {run.status} after {within} s")


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_independent_branches_run_in_parallel_on_several_workers(workflow_make, cluster):
    workflow = workflow_make(
        "fan-out",
        [
            {"id": "root", "skill": "add", "params": {"a": 1}},
            *({"id": f"sleep{i}", "skill": "sleepy", "params": {"seconds": 1.0, "value": i},
               "depends_on": ["root"]} for i in range(3)),
            {"id": "merge", "skill": "echo", "depends_on": ["sleep0", "sleep1", "sleep2"],
             "params": {"value": [{"$ref": f"steps.sleep{i}.output.value"} for i in range(3)]}},
        ],
    )  # fmt: skip
    finished(run_start(workflow, {}), cluster)  # builds the environment, warms the runners

    run = finished(run_start(workflow, {}), cluster)

    steps = {step.step_id: step for step in StepRun.objects.filter(run=run)}
    assert run.status == "succeeded"
    assert steps["merge"].output == {"value": [0, 1, 2], "label": ""}
    sleepers = [steps[f"sleep{i}"] for i in range(3)]
    # All three were running at once (no timed bound: the benchmarks measure how fast).
    assert max(s.started_at for s in sleepers) < min(s.finished_at for s in sleepers)
    assert len({s.worker for s in sleepers}) == 3


def test_a_join_is_released_once_when_its_parents_finish_together(workflow_make, cluster, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    steps = [{"id": "root", "skill": "add"}]
    parents = [f"p{i}" for i in range(3)]
    steps += [{"id": parent, "skill": "sleepy", "depends_on": ["root"],
               "params": {"seconds": 0.4, "mark": {"$ref": f"inputs.{parent}"}}}
              for parent in parents]  # fmt: skip
    steps.append({"id": "join", "skill": "sleepy", "depends_on": parents,
                  "params": {"seconds": 0, "mark": {"$ref": "inputs.join"}}})  # fmt: skip
    names = [*parents, "join"]
    inputs = {"type": "object", "properties": {name: {"type": "string"} for name in names}}
    workflow = workflow_make("join", steps, inputs=inputs)
    finished(run_start(workflow, {name: str(tmp_path / "warm") for name in names}), cluster)

    runs = [
        run_start(workflow, {name: str(marks / f"{r}-{name}") for name in names}) for r in range(4)
    ]

    for r, run in enumerate(runs):
        assert finished(run, cluster).status == "succeeded"
        join = StepRun.objects.get(run=run, step_id="join")
        assert (join.attempt, join.remaining_dependencies) == (1, 0)
        for name in names:
            assert lines(marks / f"{r}-{name}") == ["done"], (r, name)
    workers = set(StepRun.objects.filter(run__in=runs, step_id__in=parents).values_list("worker"))
    assert len(workers) >= 2  # the parents really finished on different workers


def test_a_worker_killed_mid_step_loses_nothing_and_repeats_nothing(
    workflow_make, cluster, tmp_path, settings
):
    settings.ATOM_STEP_STALE_SECONDS = 2
    mark, after = tmp_path / "slow", tmp_path / "after"
    workflow = workflow_make(
        "killed",
        [
            {"id": "slow", "skill": "sleepy", "retries": 1,
             "params": {"seconds": 2.0, "mark": str(mark)}},
            {"id": "after", "skill": "sleepy", "depends_on": ["slow"],
             "params": {"seconds": 0, "mark": str(after),
                        "value": {"$ref": "steps.slow.output.slept"}}},
        ],
    )  # fmt: skip
    run = run_start(workflow, {})
    deadline = time.monotonic() + 120
    while not lines(mark.with_suffix(".started")) and time.monotonic() < deadline:
        time.sleep(0.05)
    step = StepRun.objects.get(run=run, step_id="slow")
    worker_pid = int(step.worker.rsplit(":", 1)[1])
    runner_pid = int(lines(mark.with_suffix(".started"))[0])

    os.kill(worker_pid, signal.SIGKILL)
    # The runner dies with its worker (bwrap's --die-with-parent, or PR_SET_PDEATHSIG).
    gone = time.monotonic() + 10
    while Path(f"/proc/{runner_pid}").exists() and time.monotonic() < gone:
        time.sleep(0.05)
    assert not Path(f"/proc/{runner_pid}").exists()
    time.sleep(settings.ATOM_STEP_STALE_SECONDS + 0.5)  # its heartbeat goes stale
    report = runs_reap()

    assert report.requeued == [step.pk]
    run = finished(run, cluster)
    step.refresh_from_db()
    assert run.status == "succeeded"
    assert (step.status, step.attempt) == ("succeeded", 2)
    assert lines(mark) == ["done"]  # it ran to success exactly once
    assert len(lines(mark.with_suffix(".started"))) == 2
    assert lines(after) == ["done"]
    assert StepRun.objects.get(run=run, step_id="after").output["value"] == 2.0


def test_cancelling_kills_a_running_step_and_twice_is_a_conflict(workflow_make, cluster, tmp_path):
    from workflows.errors import RunStateConflict

    mark = tmp_path / "long"
    workflow = workflow_make(
        "long",
        [{"id": "long", "skill": "sleepy", "params": {"seconds": 60, "mark": str(mark)}},
         {"id": "never", "skill": "add", "depends_on": ["long"]}],
    )  # fmt: skip
    run = run_start(workflow, {})
    deadline = time.monotonic() + 120
    while not lines(mark.with_suffix(".started")) and time.monotonic() < deadline:
        time.sleep(0.05)
    runner_pid = int(lines(mark.with_suffix(".started"))[0])

    run_cancel(run=run)

    gone = time.monotonic() + 10
    while Path(f"/proc/{runner_pid}").exists() and time.monotonic() < gone:
        time.sleep(0.05)
    assert not Path(f"/proc/{runner_pid}").exists()  # killed by its worker's heartbeat
    assert lines(mark) == []
    with pytest.raises(RunStateConflict):
        run_cancel(run=run)
    statuses = dict(StepRun.objects.filter(run=run).values_list("step_id", "status"))
    assert statuses == {"long": "cancelled", "never": "cancelled"}
    # The pool recovers: the next run on the same workers succeeds.
    again = run_start(workflow_make("short", [{"id": "a", "skill": "add"}]), {})
    assert finished(again, cluster).status == "succeeded"


def test_a_retry_waiting_for_its_delay_leaves_the_worker_free(workflow_make, one_worker, tmp_path):
    calls = tmp_path / "calls"
    flaky = workflow_make(
        "flaky",
        [{"id": "flaky", "skill": "flaky", "params": {"mark": str(calls)}, "retries": 1,
          "retry_delay_seconds": 3, "retry_backoff": 2}],
    )  # fmt: skip
    other = workflow_make("other", [{"id": "nap", "skill": "sleepy", "params": {"seconds": 0.2}}])
    finished(run_start(other, {}), one_worker)  # the worker's runner is warm

    run = run_start(flaky, {})
    deadline = time.monotonic() + 60
    step = StepRun.objects.get(run=run)
    while step.not_before is None and time.monotonic() < deadline:
        time.sleep(0.05)
        step.refresh_from_db()
    assert (step.status, step.attempt, step.error_type) == ("queued", 1, "RuntimeError")
    meanwhile = finished(run_start(other, {}), one_worker)  # the one worker is free

    run = finished(run, one_worker)
    step.refresh_from_db()
    nap = StepRun.objects.get(run=meanwhile)
    first, second = (float(line) for line in lines(calls))
    assert (run.status, step.status, step.attempt, step.output) == (
        "succeeded", "succeeded", 2, {"calls": 2})  # fmt: skip
    assert nap.worker == step.worker  # the same worker ran the other run's step
    assert nap.finished_at < step.started_at  # while the retry waited
    assert second - first >= 3  # and the retry came after its delay
    assert step.started_at >= step.queued_at  # not claimed before `not_before`
