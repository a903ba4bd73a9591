"""The few writes an analyst makes from a notebook (the demo catalog, a budget, a baseline), and
what garbage collection would free, through the same domain functions as `make up`, the API
and `manage.py envs gc`."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from atom.configure import in_orm_thread_ready
from atom.performance import DEFAULT_SPAN, operation_check
from atom.tables import INTEGER, TEXT, TIME, Moment, typed_frame, window_of
from perf.budgets import BudgetInvalidError, NoSamplesError, baseline_set_from_window, budget_set
from skills.installer.maintenance import environments_collect
from skills.models import Environment

GC_COLUMNS = {
    "key": TEXT,
    "status": TEXT,
    "size_bytes": INTEGER,
    "last_used_at": TIME,
    "created_at": TIME,
}


@in_orm_thread_ready
def demo_load() -> str:
    """Import the demo skills and workflows when they are missing (as `make up` does)."""
    from atom_site.demo import demo_load as skills_demo_load
    from workflows.library import workflows_demo_load

    return f"{skills_demo_load()}\n{workflows_demo_load()}"


@in_orm_thread_ready
def budget(operation: str, seconds: float, *, statistic: str | None = None) -> dict:
    """Set an operation's budget (the `PUT /api/perf/budgets/{operation}` function)."""
    operation_check(operation)
    try:
        found = budget_set(operation=operation, seconds=seconds, statistic=statistic)
    except BudgetInvalidError as error:
        raise ValueError(f"{error.field}: {error}") from None
    return {"operation": found.operation, "seconds": found.seconds, "statistic": found.statistic}


@in_orm_thread_ready
def baseline(operation: str, *, since: Moment = "24h", until: Moment = None) -> dict:
    """Make the samples of [since, until) the operation's baseline (as the API's POST)."""
    operation_check(operation)
    since_at, until_at = window_of(since, until, default_span=DEFAULT_SPAN)
    try:
        found = baseline_set_from_window(operation=operation, since=since_at, until=until_at)
    except NoSamplesError as error:
        raise ValueError(f"since: {error}") from None
    return {name: getattr(found, name) for name in ("operation", "p50", "p95", "p99", "count")}


@in_orm_thread_ready
def gc_preview(*, unused_for: timedelta | str = "7d") -> pd.DataFrame:
    """The environments `manage.py envs gc --unused-for` would remove now (a dry run: nothing
    is deleted), with their sizes: `.size_bytes.sum()` is what it would free.
    `unused_for=timedelta(0)` lists every environment not being built or waited for."""
    if isinstance(unused_for, str):
        start, end = window_of(unused_for, None, default_span=None)
        unused_for = end - start
    report = environments_collect(unused_for=unused_for, dry_run=True, prune_cache=False)
    rows = Environment.objects.filter(key__in=report.removed).values(*GC_COLUMNS)
    return typed_frame(rows, GC_COLUMNS)
