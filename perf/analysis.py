"""Percentiles and friends, computed in the database.

PostgreSQL sorts each operation once with `percentile_cont`. SQLite has no ordered-set
aggregates, so it ranks the rows with a window function in one sorted pass and returns only
the (at most six) rows that the three percentiles interpolate between.
Both give `percentile_cont`'s linear interpolation, so the two legs agree to the last digit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from perf.models import Baseline, Budget, HourlyRollup, Sample
from perf.registry import operations_known

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


class InvalidWindowError(ValueError):
    """A time window that ends before it starts."""


@dataclass(frozen=True)
class OperationSummary:
    operation: str
    count: int
    error_count: int
    average: float
    minimum: float
    maximum: float
    p50: float
    p95: float
    p99: float

    def statistic(self, name: str) -> float:
        return getattr(self, name)

    def as_dict(self) -> dict:
        return asdict(self)


def window_check(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InvalidWindowError(f"the window starts ({since}) at or after it ends ({until})")


def summary(
    *,
    operation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    skill: str | None = None,
    version: str | None = None,
) -> list[OperationSummary]:
    """Count, average, min, max, p50, p95, p99 (seconds) per operation, in one database pass.

    `since` is inclusive, `until` exclusive; either may be left open.
    """
    window_check(since, until)
    where, params = _where(
        operation=operation, since=since, until=until, skill=skill, version=version
    )
    if connection.vendor == "postgresql":
        return _summary_postgresql(where, params)
    return _summary_ranked(where, params)


def summary_of(operation: str, **window) -> OperationSummary | None:
    """The summary of one operation, or None when it has no sample in the window."""
    found = summary(operation=operation, **window)
    return found[0] if found else None


def _where(**filters) -> tuple[str, list]:
    clauses, params = [], []
    columns = {
        "operation": "operation = %s",
        "since": "created_at >= %s",
        "until": "created_at < %s",
        "skill": "skill = %s",
        "version": "version = %s",
    }
    for name, clause in columns.items():
        value = filters.get(name)
        if value is not None:
            clauses.append(clause)
            if isinstance(value, datetime):
                # Stored as the backend stores it (naive UTC text on SQLite).
                value = connection.ops.adapt_datetimefield_value(value)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _summary_postgresql(where: str, params: list) -> list[OperationSummary]:
    table = Sample._meta.db_table
    sql = (
        "SELECT operation, COUNT(*), COUNT(*) FILTER (WHERE NOT ok), AVG(duration), "
        "MIN(duration), MAX(duration), "
        "percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration) "
        f"FROM {table}{where} GROUP BY operation ORDER BY operation"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # A sort that fits in memory is several times faster than one that spills to disk.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.PERF_SUMMARY_WORK_MEM])
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        OperationSummary(name, count, errors, avg, low, high, *percentiles)
        for name, count, errors, avg, low, high, percentiles in rows
    ]


def _summary_ranked(where: str, params: list) -> list[OperationSummary]:
    table = Sample._meta.db_table
    aggregates_sql = (
        "SELECT operation, COUNT(*), SUM(CASE WHEN ok THEN 0 ELSE 1 END), AVG(duration), "
        f"MIN(duration), MAX(duration) FROM {table}{where} GROUP BY operation ORDER BY operation"
    )
    wanted = " OR ".join(
        f"position = CAST({p!r} * (total - 1) AS INTEGER)"
        f" OR position = CAST({p!r} * (total - 1) AS INTEGER) + 1"
        for _, p in PERCENTILES
    )
    ranked_sql = (
        "WITH ranked AS (SELECT operation, duration, "
        "ROW_NUMBER() OVER (PARTITION BY operation ORDER BY duration) - 1 AS position, "
        "COUNT(*) OVER (PARTITION BY operation) AS total "
        f"FROM {table}{where}) "
        f"SELECT operation, position, duration FROM ranked WHERE {wanted}"
    )
    with connection.cursor() as cursor:
        cursor.execute(aggregates_sql, params)
        aggregates = cursor.fetchall()
        cursor.execute(ranked_sql, params)
        ranked = cursor.fetchall()
    by_position: dict[str, dict[int, float]] = defaultdict(dict)
    for name, position, duration in ranked:
        by_position[name][position] = duration
    return [
        OperationSummary(
            name,
            count,
            errors,
            avg,
            low,
            high,
            *(percentile_interpolate(by_position[name], count, p) for _, p in PERCENTILES),
        )
        for name, count, errors, avg, low, high in aggregates
    ]


def percentile_interpolate(values: dict[int, float], count: int, fraction: float) -> float:
    """percentile_cont: linear interpolation between the two ranks around fraction·(n−1)."""
    position = fraction * (count - 1)
    lower = math.floor(position)
    low = values[lower]
    if lower + 1 >= count:
        return low
    return low + (values[lower + 1] - low) * (position - lower)


def median_by_skill(*, operation: str, versions: dict[str, str]) -> dict[str, tuple[float, int]]:
    """p50 and count of the successful `operation` samples of each skill at its given version
    ({skill: version}), in one query over the (skill, version, operation) index. A skill without
    such a sample is left out."""
    if not versions:
        return {}
    table = Sample._meta.db_table
    pairs = list(versions.items())
    if connection.vendor == "postgresql":
        sql = (
            "SELECT skill, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration), COUNT(*) "
            f"FROM {table} WHERE skill <> '' AND skill = ANY(%s) AND operation = %s AND ok "
            "AND (skill, version) IN (SELECT * FROM unnest(%s::text[], %s::text[])) "
            "GROUP BY skill"
        )
        names = [skill for skill, _ in pairs]
        params = [names, operation, names, [version for _, version in pairs]]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {skill: (p50, count) for skill, p50, count in cursor.fetchall()}
    # As in `_summary_ranked`: rank each skill's durations and keep the (at most two) rows the
    # median interpolates between. The partial index is used only when its own condition is
    # written out and the skill names are an IN list; otherwise SQLite scans the table.
    matches = " OR ".join(["(skill = %s AND version = %s)"] * len(pairs))
    placeholders = ", ".join(["%s"] * len(pairs))
    sql = (
        "WITH ranked AS (SELECT skill, duration, "
        "ROW_NUMBER() OVER (PARTITION BY skill ORDER BY duration) - 1 AS position, "
        "COUNT(*) OVER (PARTITION BY skill) AS total "
        f"FROM {table} WHERE NOT (skill = '') AND skill IN ({placeholders}) "
        f"AND operation = %s AND ok AND ({matches})) "
        "SELECT skill, position, total, duration FROM ranked "
        "WHERE position = CAST(0.5 * (total - 1) AS INTEGER) "
        "OR position = CAST(0.5 * (total - 1) AS INTEGER) + 1"
    )
    params = [
        *(skill for skill, _ in pairs),
        operation,
        *(value for pair in pairs for value in pair),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    positions: dict[str, dict[int, float]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for skill, position, total, duration in rows:
        positions[skill][position] = duration
        totals[skill] = total
    return {
        skill: (percentile_interpolate(positions[skill], total, 0.5), total)
        for skill, total in totals.items()
    }


def operation_is_known(operation: str) -> bool:
    """Known: recorded by Atom's apps, budgeted, baselined, or measured at least once."""
    return (
        operation in operations_known()
        or Budget.objects.filter(operation=operation).exists()
        or Baseline.objects.filter(operation=operation).exists()
        or Sample.objects.filter(operation=operation).exists()
        or HourlyRollup.objects.filter(operation=operation).exists()
    )
