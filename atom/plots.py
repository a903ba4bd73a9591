"""Plots with matplotlib: an operation's percentiles over time against its budget and baseline."""

from __future__ import annotations

from typing import Any

from atom.configure import in_orm_thread_ready
from atom.performance import DEFAULT_SPAN, operation_check
from atom.tables import Moment, time_zone, window_of
from perf.models import Baseline, Budget
from perf.recording import flush as samples_flush
from perf.series import DEFAULT_BUCKETS, operation_series

PERCENTILE_STYLES = {"p50": "-", "p95": "--", "p99": ":"}


@in_orm_thread_ready
def _series(operation: str, since: Moment, until: Moment, buckets: int) -> dict[str, Any]:
    operation_check(operation)
    since_at, until_at = window_of(since, until, default_span=DEFAULT_SPAN)
    samples_flush()
    budget = Budget.objects.filter(operation=operation).first()
    baseline = Baseline.objects.filter(operation=operation, skill="", version="").first()
    return {
        "since": since_at,
        "until": until_at,
        "points": operation_series(
            operation=operation, since=since_at, until=until_at, buckets=buckets
        ),
        "budget": (budget.seconds, budget.statistic) if budget else None,
        "baseline": baseline,
    }


def percentiles_plot(
    operation: str,
    *,
    since: Moment = "24h",
    until: Moment = None,
    buckets: int = DEFAULT_BUCKETS,
    ax: Any = None,
) -> Any:
    """p50/p95/p99 of `operation` per time bucket (the dashboard's series), in milliseconds,
    with its budget and its baseline as horizontal lines. Returns the matplotlib Axes."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    data = _series(operation, since, until, buckets)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    points = data["points"]
    moments = [point.start for point in points]
    for name, style in PERCENTILE_STYLES.items():
        values = [getattr(point, name) * 1e3 for point in points]
        ax.plot(moments, values, style, marker="o", markersize=3, label=name)
    if data["budget"] is not None:
        seconds, statistic = data["budget"]
        ax.axhline(seconds * 1e3, color="#c62828", linewidth=1.5, label=f"budget ({statistic})")
    baseline = data["baseline"]
    if baseline is not None:
        ax.axhline(baseline.p95 * 1e3, color="#6a1b9a", linestyle="-.", label="baseline p95")
    ax.set_title(f"{operation}: {sum(point.count for point in points):,} samples")
    ax.set_ylabel("milliseconds")
    ax.set_xlim(data["since"], data["until"])
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=time_zone()))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    if not points:
        ax.text(0.5, 0.5, "no samples in this window", transform=ax.transAxes, ha="center")
    return ax
