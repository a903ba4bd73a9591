"""Hourly rollups of samples, and pruning of what is older than the retention period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import TruncHour
from django.utils import timezone

from perf.analysis import summary
from perf.models import HourlyRollup, ResourceSample, Sample

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class RollupResult:
    hours: int
    rollups: int
    samples_pruned: int
    resources_pruned: int


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rollup(*, now: datetime | None = None, retention_days: int | None = None) -> RollupResult:
    """Roll every complete hour not rolled up yet (and the last one again, in case samples
    arrived late), then prune samples older than the retention period. Idempotent."""
    now = now or timezone.now()
    retention = timedelta(days=retention_days or settings.PERF_RETENTION_DAYS)
    end = hour_floor(now)
    last = HourlyRollup.objects.aggregate(last=Max("hour"))["last"]
    samples = Sample.objects.filter(created_at__lt=end)
    if last is not None:
        samples = samples.filter(created_at__gte=last)
    hours = sorted(
        samples.annotate(hour=TruncHour("created_at")).values_list("hour", flat=True).distinct()
    )
    written = sum(_hour_roll(hour) for hour in hours)
    cutoff = min(end, now - retention)
    with transaction.atomic():
        pruned, _ = Sample.objects.filter(created_at__lt=cutoff).delete()
        resources, _ = ResourceSample.objects.filter(created_at__lt=now - retention).delete()
    return RollupResult(len(hours), written, pruned, resources)


def _hour_roll(hour: datetime) -> int:
    with transaction.atomic():
        found = summary(since=hour, until=hour + HOUR)
        for item in found:
            HourlyRollup.objects.update_or_create(
                operation=item.operation,
                hour=hour,
                defaults={
                    "count": item.count,
                    "error_count": item.error_count,
                    "total": item.average * item.count,
                    "minimum": item.minimum,
                    "maximum": item.maximum,
                    "p50": item.p50,
                    "p95": item.p95,
                    "p99": item.p99,
                },
            )
    return len(found)
