"""Budgets (the most an operation may take) and baselines (what it normally takes)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from perf.analysis import summary, summary_of
from perf.models import STATISTICS, Baseline, Budget


class BudgetInvalidError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class NoSamplesError(LookupError):
    """A baseline cannot be taken from a window without samples."""


def budget_set(*, operation: str, seconds: float, statistic: str | None = None) -> Budget:
    """Create or change an operation's budget; a budget must be a positive number of seconds."""
    if not seconds > 0:
        raise BudgetInvalidError("seconds", f"a budget must be above 0 seconds, not {seconds!r}")
    if not math.isfinite(seconds):
        raise BudgetInvalidError("seconds", f"a budget must be a finite number, not {seconds!r}")
    if statistic is not None and statistic not in STATISTICS:
        raise BudgetInvalidError("statistic", f"statistic must be one of {', '.join(STATISTICS)}")
    defaults: dict = {"seconds": seconds}
    if statistic is not None:
        defaults["statistic"] = statistic
    budget, _ = Budget.objects.update_or_create(operation=operation, defaults=defaults)
    return budget


def baseline_set(
    *,
    operation: str,
    p50: float,
    p95: float,
    p99: float,
    count: int,
    source: str,
    skill: str = "",
    version: str = "",
) -> Baseline:
    baseline, _ = Baseline.objects.update_or_create(
        operation=operation,
        skill=skill,
        version=version,
        defaults={
            "p50": p50,
            "p95": p95,
            "p99": p99,
            "count": count,
            "source": source,
            "set_at": timezone.now(),
        },
    )
    return baseline


def baseline_set_from_window(
    *,
    operation: str,
    since: datetime,
    until: datetime,
    skill: str = "",
    version: str = "",
) -> Baseline:
    """Make the samples of a window the operation's (or one skill version's) baseline."""
    found = summary_of(
        operation, since=since, until=until, skill=skill or None, version=version or None
    )
    if found is None:
        raise NoSamplesError(f"no {operation} sample between {since} and {until}")
    return baseline_set(
        operation=operation,
        p50=found.p50,
        p95=found.p95,
        p99=found.p99,
        count=found.count,
        source=Baseline.Source.WINDOW,
        skill=skill,
        version=version,
    )


def baselines_set_from_last_day(*, operations: list[str] | None = None) -> list[Baseline]:
    """The admin's "set baseline from the last 24 h": every (or each named) operation at once."""
    until = timezone.now()
    since = until - timedelta(hours=24)
    with transaction.atomic():
        return [
            baseline_set(
                operation=item.operation,
                p50=item.p50,
                p95=item.p95,
                p99=item.p99,
                count=item.count,
                source=Baseline.Source.WINDOW,
            )
            for item in summary(since=since, until=until)
            if operations is None or item.operation in operations
        ]
