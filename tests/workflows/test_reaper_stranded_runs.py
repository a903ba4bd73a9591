"""A run whose last step ended while the run's own end could not be written (the database
restarted between the two) is ended by the reaper; a run with work left is not."""

import pytest

from workflows.engine import run_start, runs_reap
from workflows.models import StepRun, WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_reaper_ends_a_run_whose_steps_all_ended(workflow_make, q_sync):
    workflow = workflow_make("stranded", [{"id": "a", "skill": "add"}, {"id": "b", "skill": "add"}])
    run = run_start(workflow, {})
    assert WorkflowRun.objects.get(pk=run.pk).status == "succeeded"
    # As a worker whose last write failed leaves it: every step ended, the run still running.
    WorkflowRun.objects.filter(pk=run.pk).update(status="running", finished_at=None)

    report = runs_reap()

    run.refresh_from_db()
    assert report.runs_finished == [run.pk]
    assert run.status == "succeeded"
    assert run.finished_at is not None
    assert runs_reap().runs_finished == []


def test_the_reaper_leaves_a_run_with_a_step_still_to_run(workflow_make, q_sync):
    workflow = workflow_make("busy", [{"id": "a", "skill": "add"}, {"id": "b", "skill": "add"}])
    run = run_start(workflow, {})
    WorkflowRun.objects.filter(pk=run.pk).update(status="running", finished_at=None)
    StepRun.objects.filter(run=run, step_id="b").update(status="pending")

    report = runs_reap()

    assert report.runs_finished == []
    assert WorkflowRun.objects.get(pk=run.pk).status == "running"
