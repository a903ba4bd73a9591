"""`manage.py perf report --html`: one self-contained HTML file (inline CSS, inline SVG charts,
no script and nothing fetched) with the dashboard's figures for a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from perf.charts import Line, line_chart
from perf.dashboard import Overview, operation_chart, overview, resource_chart


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString


def _operation_chart(operation: str, since: datetime, until: datetime) -> Chart | None:
    found = operation_chart(operation=operation, since=since, until=until)
    times = found["time"]
    if not times:
        return None
    milliseconds = {name: [value * 1000 for value in found[name]] for name in ("p50", "p95", "p99")}
    lines = [Line(name, times, values) for name, values in milliseconds.items()]
    if found["budget"] is not None:
        lines.append(
            Line(
                f"budget ({found['budget_statistic']})",
                [found["since"], found["until"]],
                [found["budget"] * 1000] * 2,
                dashed=True,
            )
        )
    if found["baseline"] is not None:
        lines.append(
            Line(
                "baseline p99",
                [found["since"], found["until"]],
                [found["baseline"]["p99"] * 1000] * 2,
                dashed=True,
            )
        )
    title = f"{operation}: p50 / p95 / p99 per bucket (ms)"
    return Chart(
        title, line_chart(lines, since=found["since"], until=found["until"], unit="ms", title=title)
    )


def _resource_charts(since: datetime, until: datetime) -> list[Chart]:
    found = resource_chart(since=since, until=until)
    charts = []
    for host, columns in found["hosts"].items():
        for title, fields, unit in (
            ("CPU and memory", ("cpu_percent", "memory_percent"), "%"),
            ("load and task queue", ("load_1", "queue_length", "running_tasks"), ""),
            ("disk I/O", ("disk_read_rate", "disk_write_rate"), "B/s"),
        ):
            lines = [Line(field, columns["time"], columns[field]) for field in fields]
            full_title = f"{host}: {title}"
            svg = line_chart(
                lines, since=found["since"], until=found["until"], unit=unit, title=full_title
            )
            charts.append(Chart(full_title, svg))
    return charts


def report_html(*, since: datetime, until: datetime, threshold: float | None = None) -> str:
    found: Overview = overview(since=since, until=until, threshold=threshold)
    operation_charts = [
        chart
        for report in found.operations
        if (chart := _operation_chart(report.summary.operation, since, until)) is not None
    ]
    return render_to_string(
        "perf/report.html",
        {
            "overview": found,
            "generated_at": timezone.now(),
            "operation_charts": operation_charts,
            "resource_charts": _resource_charts(since, until),
        },
    )
