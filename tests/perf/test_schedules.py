import pytest
from django_q.models import Schedule

from perf.schedules import schedules_ensure

pytestmark = pytest.mark.django_db


def test_the_schedules_are_created_once_and_updated_in_place(settings):
    settings.PERF_RESOURCE_INTERVAL = 5.0
    assert schedules_ensure() == ["perf.checks", "perf.resource_sample", "perf.rollup"]
    schedules_ensure()

    assert Schedule.objects.filter(name__startswith="perf.").count() == 3
    sampling = Schedule.objects.get(name="perf.resource_sample")
    assert (sampling.func, sampling.schedule_type, sampling.minutes) == (
        "perf.tasks.resource_sample_task",
        Schedule.MINUTES,
        1,
    )
    assert sampling.kwargs == "{'period': 60.0}"
    assert Schedule.objects.get(name="perf.rollup").schedule_type == Schedule.HOURLY


def test_a_slow_resource_interval_stretches_the_schedule(settings):
    settings.PERF_RESOURCE_INTERVAL = 150.0
    schedules_ensure()

    sampling = Schedule.objects.get(name="perf.resource_sample")
    assert (sampling.minutes, sampling.kwargs) == (3, "{'period': 180.0}")
