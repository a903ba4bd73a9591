"""What the admin dashboard and the HTML report show, gathered in one place so both show the
same figures: operations against budgets and baselines, open alerts, cache hit rates, agents,
the hosts' latest resources, and the chart series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from perf.alerts import alerts_open
from perf.insights import (
    AgentFigures,
    HitRate,
    OperationReport,
    SubjectTiming,
    agent_metrics,
    cache_hit_rates,
    operations_report,
    slowest,
)
from perf.models import Alert, Baseline, Budget, ResourceSample
from perf.regressions import threshold_checked
from perf.series import DEFAULT_BUCKETS, operation_series, resource_series


@dataclass(frozen=True)
class Overview:
    since: datetime
    until: datetime
    threshold: float
    operations: list[OperationReport]
    unmeasured: list[Budget]  # budgeted operations without a sample in the window
    alerts: list[Alert]
    cache_hit_rates: list[HitRate]
    agents: list[AgentFigures]
    slowest_skills: list[SubjectTiming]
    resources: list[ResourceSample]  # each host's latest sample in the window


def overview(*, since: datetime, until: datetime, threshold: float | None = None) -> Overview:
    threshold = threshold_checked(threshold)
    operations = operations_report(since=since, until=until, threshold=threshold)
    measured = {report.summary.operation for report in operations}
    return Overview(
        since=since,
        until=until,
        threshold=threshold,
        operations=operations,
        unmeasured=list(Budget.objects.exclude(operation__in=measured)),
        alerts=list(alerts_open()),
        cache_hit_rates=cache_hit_rates(since=since, until=until),
        agents=agent_metrics(since=since, until=until),
        slowest_skills=slowest(field="skill", since=since, until=until),
        resources=resources_latest(since=since, until=until),
    )


def resources_latest(*, since: datetime, until: datetime) -> list[ResourceSample]:
    """Each host's most recent resource sample in the window, by host name."""
    latest = (
        ResourceSample.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("host")
        .annotate(last=Max("created_at"))
    )
    found = []
    for row in latest.order_by("host"):
        sample = ResourceSample.objects.filter(host=row["host"], created_at=row["last"]).first()
        if sample is not None:
            found.append(sample)
    return found


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def operation_chart(
    *, operation: str, since: datetime, until: datetime, buckets: int = DEFAULT_BUCKETS
) -> dict:
    """An operation's percentiles per bucket, with its budget and baseline (JSON-ready:
    times in seconds since the epoch, durations in seconds)."""
    points = operation_series(operation=operation, since=since, until=until, buckets=buckets)
    budget = Budget.objects.filter(operation=operation).first()
    baseline = Baseline.objects.filter(operation=operation, skill="", version="").first()
    return {
        "operation": operation,
        "since": epoch(since),
        "until": epoch(until),
        "budget": budget.seconds if budget else None,
        "budget_statistic": budget.statistic if budget else None,
        "baseline": (
            {"p50": baseline.p50, "p95": baseline.p95, "p99": baseline.p99} if baseline else None
        ),
        "time": [epoch(point.start) for point in points],
        "count": [point.count for point in points],
        "p50": [point.p50 for point in points],
        "p95": [point.p95 for point in points],
        "p99": [point.p99 for point in points],
    }


def resource_chart(*, since: datetime, until: datetime, buckets: int = DEFAULT_BUCKETS * 2):
    """Each host's resources averaged per bucket (JSON-ready), one column per field."""
    series = resource_series(since=since, until=until, buckets=buckets)
    hosts = {}
    for host, points in series.items():
        columns: dict[str, list] = {"time": [epoch(point.start) for point in points]}
        for field in points[0].values:
            columns[field] = [point.values[field] for point in points]
        hosts[host] = columns
    return {"since": epoch(since), "until": epoch(until), "hosts": hosts}
