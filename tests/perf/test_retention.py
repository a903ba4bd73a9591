from datetime import timedelta

import pytest

from perf.models import HourlyRollup, ResourceSample, Sample
from perf.retention import rollup
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


def test_complete_hours_are_rolled_up_with_their_percentiles(now):
    samples_create("skill_load", [1.0, 2.0, 3.0, 4.0], at=now - timedelta(minutes=90))
    samples_create("skill_load", [10.0], at=now + timedelta(minutes=2))  # hour not over yet

    result = rollup(now=now + timedelta(minutes=5))

    rolled = HourlyRollup.objects.get()
    assert rolled.hour == now - timedelta(hours=2)
    assert (rolled.operation, rolled.count, rolled.error_count) == ("skill_load", 4, 0)
    assert (rolled.minimum, rolled.maximum, rolled.total, rolled.average) == (1.0, 4.0, 10.0, 2.5)
    assert rolled.p50 == pytest.approx(2.5)
    assert (result.hours, result.rollups, result.samples_pruned) == (1, 1, 0)


def test_rolling_up_twice_changes_nothing(now):
    samples_create("skill_load", [1.0, 2.0], at=now - timedelta(minutes=90))

    rollup(now=now)
    second = rollup(now=now)

    assert HourlyRollup.objects.count() == 1
    assert HourlyRollup.objects.get().count == 2
    assert second.rollups == 1  # the last hour is rolled again in case samples arrived late


def test_samples_past_retention_are_pruned_after_being_rolled_up(now):
    samples_create("skill_run", [1.0, 3.0], at=now - timedelta(days=8))
    samples_create("skill_run", [5.0], at=now - timedelta(days=1))
    ResourceSample.objects.create(
        host="h",
        cpu_percent=1,
        memory_percent=1,
        disk_read_bytes=0,
        disk_write_bytes=0,
        created_at=now - timedelta(days=8),
    )

    result = rollup(now=now, retention_days=7)

    assert list(Sample.objects.values_list("duration", flat=True)) == [5.0]
    assert ResourceSample.objects.count() == 0
    assert (result.samples_pruned, result.resources_pruned) == (2, 1)
    assert HourlyRollup.objects.count() == 2
    assert HourlyRollup.objects.earliest("hour").count == 2
