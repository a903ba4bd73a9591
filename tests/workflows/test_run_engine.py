"""The run engine's logic, each task run at once in this process (django-q2 sync): outputs
flowing downstream, refusals that create nothing, failures, retries, limits, conditions,
caching, cancel, retry and the reaper. What needs real workers is in test_runs_on_workers.py."""

import datetime

import pytest
from django.utils import timezone

from perf.models import Sample
from perf.recording import flush
from skills.models import Environment, Skill, SkillStatus
from tests.commits import statements_not_awaited
from workflows.engine import run_cancel, run_retry, run_start, runs_reap
from workflows.errors import RunInputsInvalid, RunRefused, RunStateConflict
from workflows.models import StepRun, WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True)


def steps_of(run: WorkflowRun) -> dict[str, StepRun]:
    return {step.step_id: step for step in StepRun.objects.filter(run=run)}


DIAMOND = [
    {"id": "a", "skill": "add", "params": {"a": {"$ref": "inputs.x"}, "b": 2}},
    {"id": "b", "skill": "add", "params": {"a": {"$ref": "steps.a.output.sum"}, "b": 10},
     "depends_on": ["a"]},
    {"id": "c", "skill": "echo", "params": {"value": {"$ref": "steps.a.output.sum"}},
     "depends_on": ["a"]},
    {"id": "d", "skill": "add",
     "params": {"a": {"$ref": "steps.b.output.sum"}, "b": {"$ref": "steps.c.output.value"}},
     "depends_on": ["b", "c"]},
]  # fmt: skip
INPUTS = {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}}


def test_outputs_flow_downstream_and_each_step_runs_once(workflow_make, q_sync):
    workflow = workflow_make("diamond", DIAMOND, inputs=INPUTS)

    run = run_start(workflow, {"x": 5})

    run.refresh_from_db()
    steps = steps_of(run)
    assert run.status == "succeeded"
    assert run.started_at <= run.finished_at
    assert {key: step.output for key, step in steps.items()} == {
        "a": {"sum": 7},
        "b": {"sum": 17},
        "c": {"value": 7, "label": ""},
        "d": {"sum": 24},
    }
    assert {step.status for step in steps.values()} == {"succeeded"}
    assert [step.attempt for step in steps.values()] == [1, 1, 1, 1]
    assert steps["d"].params == {"a": 17, "b": 7}
    assert dict(
        Skill.objects.filter(slug__in=["add", "echo"]).values_list("slug", "run_count")
    ) == {
        "add": 3,
        "echo": 1,
    }
    assert {step.remaining_dependencies for step in steps.values()} == {0}
    flush()
    recorded = set(Sample.objects.filter(workflow="diamond").values_list("operation", "step"))
    assert ("step_run", "d") in recorded
    assert ("step_queue_wait", "a") in recorded
    assert ("step_engine_overhead", "b") in recorded
    assert Sample.objects.filter(operation="workflow_run", workflow="diamond").count() == 1


def test_inputs_get_their_defaults(workflow_make, q_sync):
    run = run_start(workflow_make("diamond", DIAMOND, inputs=INPUTS), {})

    assert run.inputs == {"x": 1}
    assert steps_of(run)["d"].output == {"sum": 16}  # a: 3, b: 13, c: 3


def test_inputs_breaking_the_schema_are_refused_naming_the_field(workflow_make, q_sync):
    workflow = workflow_make("diamond", DIAMOND, inputs=INPUTS)

    with pytest.raises(RunInputsInvalid) as refused:
        run_start(workflow, {"x": "five"})

    assert refused.value.status == 422
    assert refused.value.field == "inputs.x"
    assert "'five' is not of type 'integer'" in refused.value.message
    assert (WorkflowRun.objects.count(), StepRun.objects.count()) == (0, 0)


def test_a_skill_deprecated_since_the_workflow_was_saved_is_refused(workflow_make, q_sync):
    workflow = workflow_make("diamond", DIAMOND, inputs=INPUTS)
    Skill.objects.filter(slug="echo").update(status=SkillStatus.DEPRECATED)

    with pytest.raises(RunRefused) as refused:
        run_start(workflow, {"x": 1})

    assert refused.value.status == 409
    assert "step 'c': skill: skill 'echo' is deprecated" in refused.value.message
    assert [(e.code, e.step) for e in refused.value.errors] == [("skill_deprecated", "c")]
    assert (WorkflowRun.objects.count(), StepRun.objects.count()) == (0, 0)


def test_a_skill_that_raises_keeps_its_error_and_counts_its_retries(workflow_make, q_sync):
    workflow = workflow_make(
        "failing",
        [
            {"id": "ok", "skill": "add", "params": {"a": 1}},
            {"id": "bad", "skill": "boom", "params": {"n": 1}, "depends_on": ["ok"],
             "retries": 2, "retry_delay_seconds": 0.01, "retry_backoff": 1},
            {"id": "after", "skill": "add", "depends_on": ["bad"]},
            {"id": "later", "skill": "add", "depends_on": ["after"]},
        ],
    )  # fmt: skip

    run = run_start(workflow, {})

    run.refresh_from_db()
    steps = steps_of(run)
    assert (run.status, run.error_type) == ("failed", "StepFailed")
    assert "step 'bad' failed: ValueError: boom: {'n': 1}" in run.error_message
    bad = steps["bad"]
    assert (bad.status, bad.attempt, bad.max_attempts) == ("failed", 3, 3)
    assert (bad.error_type, bad.error_message) == ("ValueError", "boom: {'n': 1}")
    assert "raise ValueError('boom: ' + repr(params))" in bad.error_traceback
    assert [(steps[s].status, steps[s].error_type) for s in ("after", "later")] == [
        ("skipped", "UpstreamFailed"),
        ("skipped", "UpstreamFailed"),
    ]
    assert steps["ok"].status == "succeeded"


def test_finish_branches_lets_independent_steps_finish(workflow_make, q_sync):
    workflow = workflow_make(
        "branches",
        [
            {"id": "bad", "skill": "boom"},
            {"id": "left", "skill": "add", "params": {"a": 1}},
            {"id": "next", "skill": "add", "params": {"a": {"$ref": "steps.left.output.sum"}},
             "depends_on": ["left"]},
        ],
        on_failure="finish_branches",
    )  # fmt: skip

    run = run_start(workflow, {})

    run.refresh_from_db()
    steps = steps_of(run)
    assert run.status == "failed"
    assert [steps[s].status for s in ("bad", "left", "next")] == [
        "failed",
        "succeeded",
        "succeeded",
    ]
    assert steps["next"].output == {"sum": 1}


def test_stop_cancels_what_has_not_run(workflow_make, q_sync):
    workflow = workflow_make(
        "stopping",
        [{"id": "bad", "skill": "boom"}, {"id": "left", "skill": "add"},
         {"id": "next", "skill": "add", "depends_on": ["left"]}],
    )  # fmt: skip

    run = run_start(workflow, {})

    steps = steps_of(run)
    # Roots are enqueued in order: "bad" fails first and stops the run.
    assert [steps[s].status for s in ("bad", "left", "next")] == [
        "failed",
        "cancelled",
        "cancelled",
    ]


def test_an_output_over_the_limit_fails_the_step_without_retries(workflow_make, q_sync, settings):
    settings.ATOM_STEP_OUTPUT_MAX_BYTES = 100
    workflow = workflow_make("big", [{"id": "big", "skill": "big", "params": {"size": 200},
                                      "retries": 3}])  # fmt: skip

    run = run_start(workflow, {})

    step = steps_of(run)["big"]
    assert (step.status, step.attempt, step.error_type) == ("failed", 1, "OutputTooLarge")
    assert step.error_message == (
        "the output is 212 bytes of JSON; a step may keep at most 100 (ATOM_STEP_OUTPUT_MAX_BYTES)"
    )
    assert step.output is None


def test_an_output_that_is_not_json_fails_the_step(workflow_make, q_sync):
    run = run_start(workflow_make("odd", [{"id": "odd", "skill": "not-json", "retries": 2}]), {})

    step = steps_of(run)["odd"]
    assert (step.status, step.attempt, step.error_type) == ("failed", 1, "ResultNotSerializable")
    assert "object" in step.error_message


def test_a_step_over_its_timeout_is_killed_and_the_pool_recovers(workflow_make, q_sync):
    workflow = workflow_make(
        "slow",
        [{"id": "slow", "skill": "sleepy", "params": {"seconds": 30}, "timeout_seconds": 0.5}],
    )

    run = run_start(workflow, {})

    step = steps_of(run)["slow"]
    assert (step.status, step.error_type) == ("failed", "TimeoutError")
    assert "wall-clock limit of 0.5 s" in step.error_message
    assert step.wall_seconds < 10
    again = run_start(workflow_make("fast", [{"id": "a", "skill": "sleepy",
                                              "params": {"seconds": 0}}]), {})  # fmt: skip
    assert steps_of(again)["a"].status == "succeeded"


def test_a_false_condition_skips_the_step_and_releases_its_dependents(workflow_make, q_sync):
    workflow = workflow_make(
        "conditional",
        [
            {"id": "check", "skill": "echo", "params": {"value": "no"}},
            {"id": "maybe", "skill": "add", "depends_on": ["check"],
             "when": {"$ref": "steps.check.output.value", "equals": "yes"}},
            {"id": "after", "skill": "add", "params": {"a": 3}, "depends_on": ["maybe"]},
        ],
    )  # fmt: skip

    run = run_start(workflow, {})

    run.refresh_from_db()
    steps = steps_of(run)
    assert run.status == "succeeded"
    assert [steps[s].status for s in ("check", "maybe", "after")] == [
        "succeeded", "skipped", "succeeded"]  # fmt: skip
    assert steps["maybe"].error_type == ""


def test_a_cacheable_step_reuses_its_output_until_a_package_changes(workflow_make, q_sync):
    workflow = workflow_make(
        "cached",
        [{"id": "a", "skill": "add", "params": {"a": 2, "b": 3}, "cache": True},
         {"id": "b", "skill": "add", "params": {"a": {"$ref": "steps.a.output.sum"}},
          "depends_on": ["a"]}],
    )  # fmt: skip

    first = run_start(workflow, {})
    second = run_start(workflow, {})
    Environment.objects.update(lockfile="packaging==99.0 --hash=sha256:changed")
    third = run_start(workflow, {})

    assert [steps_of(run)["a"].is_cached for run in (first, second, third)] == [False, True, False]
    assert [steps_of(run)["a"].output for run in (first, second, third)] == [{"sum": 5}] * 3
    assert steps_of(second)["b"].is_cached is False
    assert steps_of(second)["a"].cache_key == steps_of(first)["a"].cache_key
    assert steps_of(third)["a"].cache_key != steps_of(first)["a"].cache_key


def test_a_cacheable_workflow_reuses_a_whole_run(workflow_make, q_sync):
    workflow = workflow_make("whole", DIAMOND, inputs=INPUTS, cache={"ttl_seconds": 60})

    first = run_start(workflow, {"x": 2})
    second = run_start(workflow, {"x": 2})
    other = run_start(workflow, {"x": 3})

    first.refresh_from_db()
    assert (first.is_cached, second.is_cached, other.is_cached) == (False, True, False)
    assert second.status == "succeeded"
    assert second.cache_key == first.cache_key != ""
    assert steps_of(second)["d"].output == steps_of(first)["d"].output == {"sum": 18}
    assert all(step.is_cached for step in steps_of(second).values())


def test_cancelling_twice_is_a_conflict(workflow_make):
    # No worker: the steps stay queued and pending.
    run = run_start(workflow_make("diamond", DIAMOND, inputs=INPUTS), {})

    run_cancel(run=run)
    with pytest.raises(RunStateConflict) as conflict:
        run_cancel(run=run)

    assert conflict.value.status == 409
    assert "already cancelled" in conflict.value.message
    assert {step.status for step in steps_of(run).values()} == {"cancelled"}


def test_retrying_an_active_run_is_a_conflict(workflow_make):
    run = run_start(workflow_make("diamond", DIAMOND, inputs=INPUTS), {})

    with pytest.raises(RunStateConflict) as conflict:
        run_retry(run=run)

    assert conflict.value.status == 409
    assert "is queued" in conflict.value.message


def test_a_retried_run_keeps_successful_outputs_and_reruns_the_rest(workflow_make, q_sync):
    workflow = workflow_make(
        "retryable",
        [{"id": "a", "skill": "add", "params": {"a": 1}},
         {"id": "b", "skill": "add", "params": {"a": {"$ref": "steps.a.output.sum"}, "b": "x"},
          "depends_on": ["a"]},
         {"id": "c", "skill": "add", "depends_on": ["b"]}],
    )  # fmt: skip
    run = run_start(workflow, {})
    a_finished = steps_of(run)["a"].finished_at
    assert steps_of(run)["b"].error_type == "TypeError"

    # What made it fail is fixed (here: the upstream output it reads), then it is retried.
    StepRun.objects.filter(run=run, step_id="a").update(output={"sum": "y"})
    run_retry(run=run)

    run.refresh_from_db()
    steps = steps_of(run)
    assert run.status == "succeeded"
    assert steps["a"].finished_at == a_finished  # not run again
    assert steps["b"].output == {"sum": "yx"}
    assert (steps["b"].attempt, steps["b"].max_attempts) == (2, 2)
    assert steps["c"].status == "succeeded"


def test_the_reaper_reclaims_a_step_whose_worker_died(workflow_make, q_sync, settings):
    workflow = workflow_make("reaped", [{"id": "a", "skill": "add", "params": {"a": 4},
                                         "retries": 1}])  # fmt: skip
    with q_sync_off():
        run = run_start(workflow, {})
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    # As a worker that claimed it and died would leave it: running, its heartbeat stopped.
    StepRun.objects.filter(run=run).update(
        status="running", attempt=1, started_at=long_ago, heartbeat_at=long_ago, worker="gone:1"
    )

    report = runs_reap()

    run.refresh_from_db()
    step = steps_of(run)["a"]
    assert report.requeued == [step.pk]
    assert (run.status, step.status, step.attempt, step.output) == ("succeeded", "succeeded", 2,
                                                                    {"sum": 4})  # fmt: skip


def test_the_reaper_fails_a_lost_step_without_attempts_left_and_times_runs_out(
    workflow_make, q_sync
):
    workflow = workflow_make("lost", [{"id": "a", "skill": "add"}, {"id": "b", "skill": "add"}],
                             timeout_seconds=60)  # fmt: skip
    with q_sync_off():
        lost = run_start(workflow, {})
        late = run_start(workflow, {})
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    StepRun.objects.filter(run=lost, step_id="a").update(
        status="running", attempt=1, started_at=long_ago, heartbeat_at=long_ago
    )
    WorkflowRun.objects.filter(pk=late.pk).update(status="running", started_at=long_ago)

    report = runs_reap()

    lost.refresh_from_db()
    late.refresh_from_db()
    assert steps_of(lost)["a"].error_type == "WorkerLost"
    assert lost.status == "failed"
    assert report.runs_timed_out == [late.pk]
    assert (late.status, late.error_type) == ("failed", "RunTimeout")
    assert {step.status for step in steps_of(late).values()} == {"cancelled"}


def test_a_retry_is_not_claimed_before_its_delay_and_the_reaper_hands_over_a_lost_one(
    workflow_make, q_sync
):
    from workflows.engine.steps import step_task_run

    workflow = workflow_make("later", [{"id": "a", "skill": "add", "params": {"a": 2},
                                        "retries": 1}])  # fmt: skip
    with q_sync_off():
        run = run_start(workflow, {})
    step = steps_of(run)["a"]
    # As a worker leaves a failed attempt whose retry waits, had that worker died since.
    due = timezone.now() + datetime.timedelta(hours=1)
    StepRun.objects.filter(pk=step.pk).update(attempt=1, not_before=due, queued_at=due)

    assert step_task_run(step_pk=step.pk) == "0 step(s)"  # a task delivered early takes nothing
    assert runs_reap().retries_dispatched == []
    assert steps_of(run)["a"].attempt == 1

    overdue = timezone.now() - datetime.timedelta(minutes=1)
    StepRun.objects.filter(pk=step.pk).update(not_before=overdue, queued_at=overdue)
    report = runs_reap()

    run.refresh_from_db()
    step.refresh_from_db()
    assert report.retries_dispatched == [step.pk]
    assert (run.status, step.status, step.attempt, step.output) == ("succeeded", "succeeded", 2,
                                                                    {"sum": 2})  # fmt: skip
    assert step.not_before is None


def test_on_postgresql_only_a_step_s_success_commits_without_waiting_for_the_disk(
    workflow_make, q_sync
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    workflow = workflow_make("durable", DIAMOND, inputs=INPUTS)

    with CaptureQueriesContext(connection) as queries:
        run = run_start(workflow, {})

    relaxed = statements_not_awaited([query["sql"] for query in queries.captured_queries])
    successes = [sql for sql in relaxed if "\"status\" = 'succeeded'" in sql]
    assert len(successes) == 4  # one per step's success, in its own transaction
    # Besides them only counters: a call's use of its ready environment.
    others = {sql.split(" SET ")[0] for sql in relaxed if sql not in successes}
    assert others == {'UPDATE "skills_environment"'}
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)  # every other transaction still waits
    run.refresh_from_db()
    assert run.status == "succeeded"


class q_sync_off:
    """Enqueue for real (nothing runs: no cluster in these tests)."""

    def __enter__(self):
        from django_q.conf import Conf

        self.was, Conf.SYNC = Conf.SYNC, False

    def __exit__(self, *exc):
        from django_q.conf import Conf

        Conf.SYNC = self.was


def test_the_reaper_is_scheduled_every_minute():
    from django_q.models import Schedule

    from workflows.schedules import schedules_ensure

    assert schedules_ensure() == ["workflows.reap"]
    schedules_ensure()  # idempotent

    schedule = Schedule.objects.get(name="workflows.reap")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "workflows.tasks.runs_reap_task", Schedule.MINUTES, 1, -1)  # fmt: skip
