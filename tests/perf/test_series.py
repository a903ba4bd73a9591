from datetime import timedelta

import pytest

from perf.analysis import InvalidWindowError, summary_of
from perf.models import ResourceSample, Sample
from perf.series import operation_series, resource_series

pytestmark = pytest.mark.django_db


def sample_at(operation: str, duration: float, at, ok: bool = True) -> Sample:
    return Sample.objects.create(operation=operation, duration=duration, created_at=at, ok=ok)


def test_operation_series_gives_each_buckets_percentiles(now):
    since = now - timedelta(minutes=3)
    for second, duration in enumerate([0.4, 0.1, 0.3, 0.2]):
        sample_at("skill_load", duration, since + timedelta(seconds=10 + second))
    sample_at("skill_load", 0.9, since + timedelta(minutes=2, seconds=5), ok=False)
    sample_at("skill_load", 5.0, now)  # until is exclusive
    sample_at("skill_run", 7.0, since + timedelta(seconds=1))

    points = operation_series(operation="skill_load", since=since, until=now, buckets=3)

    assert [(p.start, p.count, p.error_count) for p in points] == [
        (since, 4, 0),
        (since + timedelta(minutes=2), 1, 1),
    ]
    first = summary_of("skill_load", since=since, until=since + timedelta(minutes=1))
    assert (points[0].p50, points[0].p95, points[0].p99) == pytest.approx(
        (first.p50, first.p95, first.p99)
    )
    assert points[0].p50 == pytest.approx(0.25)
    assert (points[1].p50, points[1].p99) == (0.9, 0.9)


def test_a_sample_at_the_end_of_the_window_falls_in_the_last_bucket(now):
    since = now - timedelta(seconds=10)
    sample_at("hot_reload", 0.5, now - timedelta(microseconds=1))

    [point] = operation_series(operation="hot_reload", since=since, until=now, buckets=10)

    assert (point.start, point.count) == (now - timedelta(seconds=1), 1)


def test_operation_series_refuses_an_inverted_window(now):
    with pytest.raises(InvalidWindowError):
        operation_series(operation="skill_load", since=now, until=now - timedelta(seconds=1))


def test_resource_series_averages_each_host_per_bucket(now):
    since = now - timedelta(minutes=2)
    for offset, cpu in ((5, 10.0), (15, 30.0), (65, 50.0)):
        ResourceSample.objects.create(
            host="web-1",
            cpu_percent=cpu,
            memory_percent=40.0,
            disk_read_bytes=0,
            disk_write_bytes=0,
            queue_length=2,
            created_at=since + timedelta(seconds=offset),
        )
    ResourceSample.objects.create(
        host="worker-1",
        cpu_percent=99.0,
        memory_percent=60.0,
        disk_read_bytes=0,
        disk_write_bytes=0,
        created_at=since + timedelta(seconds=5),
    )

    found = resource_series(since=since, until=now, buckets=2)

    assert sorted(found) == ["web-1", "worker-1"]
    web = found["web-1"]
    assert [point.start for point in web] == [since, since + timedelta(minutes=1)]
    assert [point.values["cpu_percent"] for point in web] == [20.0, 50.0]
    assert web[0].values["queue_length"] == 2
    assert {type(value) for point in web for value in point.values.values()} == {float}
    assert [point.values["cpu_percent"] for point in found["worker-1"]] == [99.0]
