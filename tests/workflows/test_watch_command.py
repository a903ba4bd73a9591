"""`manage.py workflows run --watch` draws the run's progress from its events and ends with the
one-line summary."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from workflows.models import WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

STEPS = [
    {"id": "talk", "skill": "chatty", "params": {"lines": 3}},
    {"id": "after", "skill": "echo", "params": {"value": 1}, "depends_on": ["talk"]},
]


def test_watch_draws_the_steps_done_and_prints_the_summary(workflow_make, capsys):
    workflow_make("talk", STEPS)

    call_command("workflows", "run", "talk", "--here", "--watch")

    out, err = capsys.readouterr()
    run = WorkflowRun.objects.get()
    assert out.splitlines()[0] == f"run {run.pk} of talk started (/runs/{run.pk}/)"
    assert out.splitlines()[-1].startswith(f"run {run.pk} succeeded in ")
    assert out.splitlines()[-1].endswith(": 2 steps (2 succeeded; 0 cached)")
    assert f"run {run.pk} of talk" in err
    assert "2/2" in err
    assert "succeeded" in err


def test_watch_reports_a_refused_run_without_a_bar(workflow_make, capsys):
    workflow_make("talk", STEPS, inputs={"type": "object", "required": ["n"]})

    with pytest.raises(CommandError, match="inputs"):
        call_command("workflows", "run", "talk", "--here", "--watch")
    assert WorkflowRun.objects.count() == 0
