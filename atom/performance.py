"""Atom's performance data as typed DataFrames: samples, the summary, regressions and alerts,
through the same functions as the perf API (`/api/perf/…`)."""

from __future__ import annotations

import difflib
from datetime import timedelta

import pandas as pd

from atom.configure import in_orm_thread_ready
from atom.tables import FLAG, INTEGER, NUMBER, TEXT, TIME, Moment, typed_frame, window_of
from perf.analysis import operation_is_known
from perf.analysis import summary as summary_compute
from perf.models import Alert, Baseline, Budget, Sample
from perf.recording import flush as samples_flush
from perf.registry import operations_known
from perf.regressions import (
    ThresholdInvalidError,
    regressions_compute,
    threshold_checked,
    version_regressions_compute,
)

DEFAULT_SPAN = timedelta(hours=24)


def operation_check(operation: str) -> None:
    """A LookupError naming an operation no app registered, and the closest names."""
    if operation_is_known(operation):
        return
    close = difflib.get_close_matches(operation, sorted(operations_known()), n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise LookupError(f"no operation {operation!r}{hint}")


SAMPLE_COLUMNS = {
    "id": INTEGER,
    "operation": TEXT,
    "duration": NUMBER,
    "ok": FLAG,
    "error": TEXT,
    "skill": TEXT,
    "version": TEXT,
    "environment_key": TEXT,
    "workflow": TEXT,
    "step": TEXT,
    "agent": TEXT,
    "host": TEXT,
    "created_at": TIME,
}


@in_orm_thread_ready
def samples(
    operation: str,
    *,
    since: Moment = "24h",
    until: Moment = None,
    skill: str | None = None,
    limit: int = 100_000,
) -> pd.DataFrame:
    """Raw timing samples of one operation in [since, until), oldest first (seconds). The
    samples this kernel recorded and still buffers are written first."""
    operation_check(operation)
    samples_flush()
    since_at, until_at = window_of(since, until, default_span=DEFAULT_SPAN)
    found = Sample.objects.filter(
        operation=operation, created_at__gte=since_at, created_at__lt=until_at
    )
    if skill is not None:
        found = found.filter(skill=skill)
    rows = found.order_by("-created_at", "-id").values(*SAMPLE_COLUMNS)[:limit]
    return typed_frame(reversed(list(rows)), SAMPLE_COLUMNS)


SUMMARY_COLUMNS = {
    "operation": TEXT,
    "count": INTEGER,
    "error_count": INTEGER,
    "average": NUMBER,
    "minimum": NUMBER,
    "maximum": NUMBER,
    "p50": NUMBER,
    "p95": NUMBER,
    "p99": NUMBER,
    "budget": NUMBER,
    "budget_statistic": TEXT,
    "is_over_budget": FLAG,
    "baseline_p50": NUMBER,
    "baseline_p95": NUMBER,
    "baseline_p99": NUMBER,
}


class SummaryFrame(pd.DataFrame):
    """The summary's DataFrame, shown with its window and its budget breaches marked."""

    _metadata = ["since", "until"]

    @property
    def _constructor(self):
        return SummaryFrame

    def _repr_html_(self) -> str:
        from atom.displays import summary_html

        return summary_html(self)


@in_orm_thread_ready
def summary(
    operation: str | None = None,
    *,
    since: Moment = "24h",
    until: Moment = None,
    skill: str | None = None,
    version: str | None = None,
) -> SummaryFrame:
    """p50/p95/p99 (seconds), count, average, min and max per operation in [since, until),
    beside its budget and baseline (the `/api/perf/summary` function)."""
    if operation is not None:
        operation_check(operation)
    since_at, until_at = window_of(since, until, default_span=DEFAULT_SPAN)
    samples_flush()
    budgets = {budget.operation: budget for budget in Budget.objects.all()}
    baselines = {b.operation: b for b in Baseline.objects.filter(skill="", version="")}
    rows = []
    for item in summary_compute(
        operation=operation, since=since_at, until=until_at, skill=skill, version=version
    ):
        budget = budgets.get(item.operation)
        baseline = baselines.get(item.operation)
        row = {**item.as_dict()}
        if budget is not None:
            row.update(
                budget=budget.seconds,
                budget_statistic=budget.statistic,
                is_over_budget=item.statistic(budget.statistic) > budget.seconds,
            )
        if baseline is not None:
            row.update({f"baseline_{name}": getattr(baseline, name) for name in STATISTICS})
        rows.append(row)
    frame = SummaryFrame(typed_frame(rows, SUMMARY_COLUMNS))
    frame.since, frame.until = since_at, until_at
    return frame


STATISTICS = ("p50", "p95", "p99")

REGRESSION_COLUMNS = {
    "kind": TEXT,
    "operation": TEXT,
    "skill": TEXT,
    "statistic": TEXT,
    "previous_version": TEXT,
    "version": TEXT,
    "observed": NUMBER,
    "reference": NUMBER,
    "limit": NUMBER,
    "ratio": NUMBER,
    "count": INTEGER,
    "is_breached": FLAG,
    "environment_changes": TEXT,
}


@in_orm_thread_ready
def regressions(
    operation: str | None = None,
    *,
    since: Moment = None,
    until: Moment = None,
    threshold: float | None = None,
    statistic: str | None = None,
) -> pd.DataFrame:
    """Each baselined operation against threshold × its baseline (kind "operation"), and each
    skill's newest version against the one before (kind "version"): the `/api/perf/regressions`
    functions. Read only: alerts are raised by the scheduled check."""
    if operation is not None:
        operation_check(operation)
    since_at, until_at = window_of(since, until, default_span=None)
    samples_flush()
    try:
        threshold = threshold_checked(threshold)
    except ThresholdInvalidError as error:
        raise ValueError(f"{error.field}: {error}") from None
    rows = [
        {**verdict.as_dict(), "kind": "operation"}
        for verdict in regressions_compute(
            operation=operation,
            since=since_at,
            until=until_at,
            threshold=threshold,
            statistic=statistic,
        )
    ]
    for verdict in version_regressions_compute(since=since_at, until=until_at, threshold=threshold):
        found = verdict.as_dict()
        rows.append(
            {
                **found,
                "kind": "version",
                "statistic": "p95",
                "observed": found["p95"],
                "reference": found["previous_p95"],
            }
        )
    return typed_frame(rows, REGRESSION_COLUMNS)


ALERT_COLUMNS = {
    "id": INTEGER,
    "kind": TEXT,
    "operation": TEXT,
    "subject": TEXT,
    "severity": TEXT,
    "message": TEXT,
    "observed": NUMBER,
    "threshold": NUMBER,
    "acknowledged_by": TEXT,
    "created_at": TIME,
    "updated_at": TIME,
    "closed_at": TIME,
    "acknowledged_at": TIME,
}


@in_orm_thread_ready
def alerts(
    *, state: str = "open", operation: str | None = None, kind: str | None = None
) -> pd.DataFrame:
    """Alerts, newest first (the `/api/perf/alerts` list): open ones by default."""
    if state not in ("open", "closed", "all"):
        raise ValueError(f"state: must be open, closed or all, not {state!r}")
    found = Alert.objects.all()
    if state != "all":
        found = found.filter(closed_at__isnull=state == "open")
    if operation is not None:
        operation_check(operation)
        found = found.filter(operation=operation)
    if kind is not None:
        found = found.filter(kind=kind)
    rows = found.order_by("-created_at", "-id").values(
        *(name for name in ALERT_COLUMNS if name != "acknowledged_by"),
        "acknowledged_by__username",
    )
    return typed_frame(
        ({**row, "acknowledged_by": row["acknowledged_by__username"]} for row in rows),
        ALERT_COLUMNS,
    )
