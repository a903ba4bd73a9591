"""Host resources (psutil) and the task queue, sampled on a schedule and alerted on."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.utils import timezone

from perf.alerts import alert_close, alert_raise
from perf.models import Alert, ResourceSample

logger = logging.getLogger(__name__)

FILE_NR = Path("/proc/sys/fs/file-nr")


@dataclass(frozen=True)
class ResourceReading:
    cpu_percent: float
    memory_percent: float
    disk_read_bytes: int
    disk_write_bytes: int
    open_files: int
    load_1: float
    queue_length: int
    running_tasks: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Thresholds:
    warning: float
    critical: float


def thresholds_configured() -> dict[str, Thresholds]:
    return {
        "cpu": Thresholds(settings.PERF_CPU_WARNING, settings.PERF_CPU_CRITICAL),
        "memory": Thresholds(settings.PERF_MEMORY_WARNING, settings.PERF_MEMORY_CRITICAL),
    }


def open_files_count() -> int:
    """Open file handles on the host (Linux), else of this process."""
    try:
        return int(FILE_NR.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return len(psutil.Process().open_files())


def queue_figures() -> tuple[int, int]:
    """(tasks waiting, tasks being run) on the django-q2 broker."""
    from django_q.brokers import get_broker

    broker = get_broker()
    try:
        waiting = broker.queue_size() or 0
    except Exception:  # an unreachable broker must not stop resource sampling
        logger.warning("perf: could not read the task queue length", exc_info=True)
        return 0, 0
    try:
        running = broker.lock_size() or 0
    except (NotImplementedError, AttributeError):
        running = 0
    return waiting, running


def resources_read(*, cpu_interval: float = 0.2) -> ResourceReading:
    disk = psutil.disk_io_counters()
    waiting, running = queue_figures()
    return ResourceReading(
        cpu_percent=psutil.cpu_percent(interval=cpu_interval),
        memory_percent=psutil.virtual_memory().percent,
        disk_read_bytes=disk.read_bytes if disk else 0,
        disk_write_bytes=disk.write_bytes if disk else 0,
        open_files=open_files_count(),
        load_1=os.getloadavg()[0],
        queue_length=waiting,
        running_tasks=running,
    )


def resource_sample_take(
    *,
    reading: ResourceReading | None = None,
    host: str | None = None,
    now: datetime | None = None,
) -> ResourceSample:
    """Store one reading (taken now unless given), its disk rates since the host's previous
    sample, and open or close the CPU and memory alerts."""
    reading = reading or resources_read()
    host = host or settings.ATOM_HOST_NAME
    now = now or timezone.now()
    previous = ResourceSample.objects.filter(host=host, created_at__lt=now).order_by("-created_at")
    previous = previous.first()
    read_rate = write_rate = 0.0
    if previous is not None:
        seconds = (now - previous.created_at).total_seconds()
        if seconds > 0:
            read_rate = max(0, reading.disk_read_bytes - previous.disk_read_bytes) / seconds
            write_rate = max(0, reading.disk_write_bytes - previous.disk_write_bytes) / seconds
    sample = ResourceSample.objects.create(
        host=host,
        created_at=now,
        disk_read_rate=read_rate,
        disk_write_rate=write_rate,
        **reading.as_dict(),
    )
    resource_alerts_check(sample)
    return sample


def resource_alerts_check(
    sample: ResourceSample, *, thresholds: dict[str, Thresholds] | None = None
) -> dict[str, str]:
    """Warning or critical per resource (cpu, memory) of one sample; "ok" closes the alert."""
    thresholds = thresholds or thresholds_configured()
    levels = {}
    for resource, limit in thresholds.items():
        observed = getattr(sample, f"{resource}_percent")
        if observed > limit.critical:
            level, threshold = Alert.Severity.CRITICAL, limit.critical
        elif observed > limit.warning:
            level, threshold = Alert.Severity.WARNING, limit.warning
        else:
            alert_close(kind=Alert.Kind.RESOURCE, operation=resource, subject=sample.host)
            levels[resource] = "ok"
            continue
        alert_raise(
            kind=Alert.Kind.RESOURCE,
            operation=resource,
            subject=sample.host,
            severity=level,
            message=f"{resource} at {observed:.0f}% on {sample.host} (over {threshold:g}%)",
            observed=observed,
            threshold=threshold,
        )
        levels[resource] = str(level)
    return levels


def resource_sampling_run(*, period: float, interval: float | None = None) -> int:
    """Take a sample every `interval` seconds for one schedule period; returns how many.

    django-q2's scheduler wakes about every 30 s, so a 5 s cadence is kept by this loop inside
    one task per period (see docs/decisions.md).
    """
    interval = interval or settings.PERF_RESOURCE_INTERVAL
    started = time.monotonic()
    taken = 0
    while True:
        resource_sample_take()
        taken += 1
        next_at = started + taken * interval
        if next_at - started > period - interval / 2:
            return taken
        time.sleep(max(0.0, next_at - time.monotonic()))
