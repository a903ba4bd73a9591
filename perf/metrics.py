"""The Prometheus exposition of perf's figures, read from the database at each scrape.

Samples are recorded in every process (the web server, django-q2 workers, runners) and land in one
table, so a collector that reads the database shows the whole platform, where the
prometheus-client's own in-process counters would show only the process that was scraped.
Counts and sums are cumulative (hourly rollups plus the samples after the last rolled-up hour),
so `rate()` works across pruning; quantiles are over the last `PERF_METRICS_WINDOW` seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from perf.analysis import PERCENTILES, summary
from perf.dashboard import resources_latest
from perf.insights import agent_queue_lengths
from perf.models import STATISTICS, Alert, Baseline, Budget, HourlyRollup, Sample

HOUR = timedelta(hours=1)

# ResourceSample field → (metric name, help text).
RESOURCE_GAUGES: dict[str, tuple[str, str]] = {
    "cpu_percent": ("atom_host_cpu_percent", "CPU use of the host, percent"),
    "memory_percent": ("atom_host_memory_percent", "Memory use of the host, percent"),
    "load_1": ("atom_host_load1", "One-minute load average of the host"),
    "disk_read_rate": ("atom_host_disk_read_bytes_per_second", "Disk reads since last sample"),
    "disk_write_rate": ("atom_host_disk_write_bytes_per_second", "Disk writes since last sample"),
    "open_files": ("atom_host_open_files", "Open file handles on the host"),
    "queue_length": ("atom_task_queue_length", "django-q2 tasks waiting"),
    "running_tasks": ("atom_tasks_running", "django-q2 tasks being run"),
}


def operation_totals() -> dict[str, tuple[int, int, float]]:
    """operation → (samples, errors, seconds) since the first sample ever recorded."""
    totals: dict[str, list] = {}
    rolled = HourlyRollup.objects.values("operation").annotate(
        count=Sum("count"), errors=Sum("error_count"), seconds=Sum("total"), last=Max("hour")
    )
    last_hour = None
    for row in rolled:
        totals[row["operation"]] = [row["count"], row["errors"], row["seconds"]]
        last_hour = max(last_hour, row["last"]) if last_hour else row["last"]
    # Rollups cover whole hours up to the last one rolled; samples after it are counted raw.
    recent = Sample.objects.all()
    if last_hour is not None:
        recent = recent.filter(created_at__gte=last_hour + HOUR)
    for row in recent.values("operation").annotate(
        count=Count("id"), errors=Count("id", filter=Q(ok=False)), seconds=Sum("duration")
    ):
        found = totals.setdefault(row["operation"], [0, 0, 0.0])
        found[0] += row["count"]
        found[1] += row["errors"]
        found[2] += row["seconds"] or 0.0
    return {name: (count, errors, seconds) for name, (count, errors, seconds) in totals.items()}


class PerfCollector:
    """Reads operations, budgets, baselines, alerts and resources from the database."""

    def __init__(self, *, now=timezone.now):
        self._now = now

    def describe(self) -> list[Metric]:
        return []  # nothing to read at registration: the database may not be there yet

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        yield from self._operations(now)
        yield from self._limits()
        yield self._alerts()
        yield self._agents()
        yield from self._resources(now)

    def _operations(self, now: datetime) -> Iterator[Metric]:
        durations = SummaryMetricFamily(
            "atom_operation_duration_seconds",
            "Duration of each measured operation (quantiles over the last "
            f"{settings.PERF_METRICS_WINDOW} s; count and sum since the start)",
            labels=["operation"],
        )
        errors = CounterMetricFamily(
            "atom_operation_errors", "Measured operations that failed", labels=["operation"]
        )
        totals = operation_totals()
        for operation, (count, error_count, seconds) in sorted(totals.items()):
            durations.add_metric([operation], count, seconds)
            errors.add_metric([operation], error_count)
        since = now - timedelta(seconds=settings.PERF_METRICS_WINDOW)
        for item in summary(since=since, until=now):
            for name, fraction in PERCENTILES:
                durations.add_sample(
                    "atom_operation_duration_seconds",
                    {"operation": item.operation, "quantile": str(fraction)},
                    item.statistic(name),
                )
        yield durations
        yield errors

    def _limits(self) -> Iterator[Metric]:
        budgets = GaugeMetricFamily(
            "atom_operation_budget_seconds",
            "The most an operation's statistic may take",
            labels=["operation", "statistic"],
        )
        for budget in Budget.objects.all():
            budgets.add_metric([budget.operation, budget.statistic], budget.seconds)
        baselines = GaugeMetricFamily(
            "atom_operation_baseline_seconds",
            "What an operation normally takes (its baseline)",
            labels=["operation", "statistic"],
        )
        for baseline in Baseline.objects.filter(skill="", version=""):
            for name in STATISTICS:
                baselines.add_metric([baseline.operation, name], baseline.statistic(name))
        yield budgets
        yield baselines

    def _alerts(self) -> Metric:
        family = GaugeMetricFamily(
            "atom_alerts_open",
            "Open alerts (regressions, budgets, versions, resources)",
            labels=["kind", "severity", "acknowledged"],
        )
        counts = {
            (kind, severity, acknowledged): 0
            for kind in Alert.Kind.values
            for severity in Alert.Severity.values
            for acknowledged in ("true", "false")
        }
        rows = (
            Alert.objects.filter(closed_at__isnull=True)
            .values("kind", "severity", acknowledged=Q(acknowledged_at__isnull=False))
            .annotate(count=Count("id"))
        )
        for row in rows:
            key = (row["kind"], row["severity"], "true" if row["acknowledged"] else "false")
            counts[key] = counts.get(key, 0) + row["count"]
        for labels, count in sorted(counts.items()):
            family.add_metric(list(labels), count)
        return family

    def _agents(self) -> Metric:
        family = GaugeMetricFamily(
            "atom_agent_queue_length", "Runs and installs queued for each agent", labels=["agent"]
        )
        for agent, count in sorted(agent_queue_lengths().items()):
            family.add_metric([agent], count)
        return family

    def _resources(self, now: datetime) -> Iterator[Metric]:
        """Each host's latest resource sample, if it is recent enough to still be true."""
        fresh = now - timedelta(seconds=settings.PERF_METRICS_RESOURCE_MAX_AGE)
        samples = resources_latest(since=fresh, until=now)
        families = {
            field: GaugeMetricFamily(name, documentation, labels=["host"])
            for field, (name, documentation) in RESOURCE_GAUGES.items()
        }
        taken = GaugeMetricFamily(
            "atom_host_resource_sample_timestamp_seconds",
            "When the host's latest resource sample was taken",
            labels=["host"],
        )
        for sample in samples:
            for field, family in families.items():
                family.add_metric([sample.host], getattr(sample, field))
            taken.add_metric([sample.host], sample.created_at.timestamp())
        yield from families.values()
        yield taken


registry = CollectorRegistry(auto_describe=False)
registry.register(PerfCollector())


def metrics_text() -> bytes:
    """The Prometheus text exposition of perf's figures, read now."""
    return generate_latest(registry)
