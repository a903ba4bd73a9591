"""run_skill_task: idempotent, and a run whose worker died is taken again later."""

import datetime

import pytest
from django.utils import timezone

from skills.models import SkillRun, SkillRunStatus
from skills.runs.tasks import run_skill_task

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def queued_run(skill, **fields) -> SkillRun:
    return SkillRun.objects.create(
        skill=skill, version=skill.current_version, params={"text": "a"}, timeout=5, **fields
    )


def test_a_run_is_carried_out_once_however_often_its_task_runs(publish):
    run = queued_run(publish(), is_queued=True)

    assert run_skill_task(run.pk) == "succeeded"
    assert run_skill_task(run.pk) == "succeeded"

    run.refresh_from_db()
    assert (run.attempts, run.result, run.skill.run_count) == (1, "A", 1)


def test_a_running_run_is_left_to_its_worker(publish):
    run = queued_run(publish(), status=SkillRunStatus.RUNNING, started_at=timezone.now())

    assert run_skill_task(run.pk) == "running"
    assert SkillRun.objects.get(pk=run.pk).attempts == 0


def test_a_run_whose_worker_died_long_ago_is_taken_again(publish, settings):
    settings.ATOM_INSTALL_TIMEOUT = 1
    long_ago = timezone.now() - datetime.timedelta(seconds=5 + 1 + 61)
    run = queued_run(publish(), status=SkillRunStatus.RUNNING, started_at=long_ago, attempts=1)

    assert run_skill_task(run.pk) == "succeeded"
    run.refresh_from_db()
    assert (run.attempts, run.result) == (2, "A")
