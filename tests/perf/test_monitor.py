from datetime import timedelta

import pytest

from perf.models import Alert, ResourceSample
from perf.monitor import ResourceReading, resource_sample_take, resources_read

pytestmark = pytest.mark.django_db


def _reading(cpu: float = 10.0, memory: float = 20.0, read: int = 0, write: int = 0):
    return ResourceReading(
        cpu_percent=cpu,
        memory_percent=memory,
        disk_read_bytes=read,
        disk_write_bytes=write,
        open_files=12,
        load_1=0.5,
        queue_length=3,
        running_tasks=1,
    )


def test_a_real_reading_has_plausible_values():
    reading = resources_read(cpu_interval=0.05)

    assert 0 <= reading.cpu_percent <= 100
    assert 0 < reading.memory_percent <= 100
    assert reading.open_files > 0
    assert reading.queue_length >= 0


def test_disk_rates_are_computed_from_the_hosts_previous_sample(now):
    resource_sample_take(reading=_reading(read=1000, write=500), host="h1", now=now)
    resource_sample_take(reading=_reading(read=99, write=99), host="h2", now=now)

    sample = resource_sample_take(
        reading=_reading(read=6000, write=1500), host="h1", now=now + timedelta(seconds=5)
    )

    assert (sample.disk_read_rate, sample.disk_write_rate) == (1000.0, 200.0)
    assert (sample.queue_length, sample.running_tasks, sample.open_files) == (3, 1, 12)
    assert ResourceSample.objects.filter(host="h1").count() == 2


def test_cpu_over_80_percent_warns_over_95_is_critical_and_back_under_closes(now):
    resource_sample_take(reading=_reading(cpu=85), host="h", now=now)
    warning = Alert.objects.get()
    resource_sample_take(reading=_reading(cpu=97), host="h", now=now + timedelta(seconds=5))
    critical = Alert.objects.get()
    resource_sample_take(reading=_reading(cpu=40), host="h", now=now + timedelta(seconds=10))

    assert (warning.kind, warning.operation, warning.subject) == ("resource", "cpu", "h")
    assert (warning.severity, warning.threshold) == ("warning", 80.0)
    assert (critical.pk, critical.severity, critical.threshold) == (warning.pk, "critical", 95.0)
    assert Alert.objects.get().closed_at is not None


def test_memory_over_75_percent_warns_and_over_90_is_critical(now):
    resource_sample_take(reading=_reading(memory=76), host="a", now=now)
    resource_sample_take(reading=_reading(memory=91), host="b", now=now)

    found = dict(Alert.objects.filter(operation="memory").values_list("subject", "severity"))
    assert found == {"a": "warning", "b": "critical"}
