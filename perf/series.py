"""Time series for charts: an operation's percentiles and the hosts' resources per time bucket,
aggregated in the database (never the raw rows sent to a browser)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from perf.analysis import PERCENTILES, percentile_interpolate, window_check
from perf.models import ResourceSample, Sample

DEFAULT_BUCKETS = 60
MAX_BUCKETS = 500

# The resource columns a chart can show (averaged per bucket).
RESOURCE_FIELDS: tuple[str, ...] = (
    "cpu_percent",
    "memory_percent",
    "load_1",
    "disk_read_rate",
    "disk_write_rate",
    "open_files",
    "queue_length",
    "running_tasks",
)


@dataclass(frozen=True)
class OperationPoint:
    """One bucket of an operation: when it starts, how many samples, their percentiles."""

    start: datetime
    count: int
    error_count: int
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class ResourcePoint:
    """One bucket of one host's resource samples, each field averaged."""

    start: datetime
    values: dict[str, float]


def bucket_width(since: datetime, until: datetime, buckets: int) -> float:
    """Seconds per bucket so that `buckets` buckets cover the window (at least one second)."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be from 1 to {MAX_BUCKETS}, not {buckets}")
    return max(1.0, (until - since).total_seconds() / buckets)


def _bucket_sql(since: datetime, width: float, buckets: int) -> tuple[str, list]:
    """SQL for the bucket number of a row's created_at, and its parameters. A row a rounding
    error past the last bucket counts in the last one."""
    start = connection.ops.adapt_datetimefield_value(since)
    if connection.vendor == "postgresql":
        number = "FLOOR(EXTRACT(EPOCH FROM (created_at - %s)) / %s)::integer"
        return f"LEAST({number}, %s)", [start, width, buckets - 1]
    # SQLite keeps datetimes as text; julianday reads it (days, with sub-millisecond precision).
    number = "CAST((julianday(created_at) - julianday(%s)) * 86400.0 / %s AS INTEGER)"
    return f"MIN({number}, %s)", [start, width, buckets - 1]


def _start(since: datetime, width: float, bucket: int) -> datetime:
    return since + timedelta(seconds=bucket * width)


def operation_series(
    *,
    operation: str,
    since: datetime,
    until: datetime,
    buckets: int = DEFAULT_BUCKETS,
) -> list[OperationPoint]:
    """p50/p95/p99 of `operation` per bucket of [since, until), oldest first; empty buckets are
    left out."""
    window_check(since, until)
    width = bucket_width(since, until, buckets)
    bucket, bucket_params = _bucket_sql(since, width, buckets)
    table = Sample._meta.db_table
    window = [operation, *(connection.ops.adapt_datetimefield_value(t) for t in (since, until))]
    where = "WHERE operation = %s AND created_at >= %s AND created_at < %s"
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT {bucket} AS bucket, COUNT(*), COUNT(*) FILTER (WHERE NOT ok), "
            "percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration) "
            f"FROM {table} {where} GROUP BY bucket ORDER BY bucket"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('work_mem', %s, true)", [settings.PERF_SUMMARY_WORK_MEM]
            )
            cursor.execute(sql, [*bucket_params, *window])
            rows = cursor.fetchall()
        return [
            OperationPoint(_start(since, width, number), count, errors, *percentiles)
            for number, count, errors, percentiles in rows
        ]
    return _operation_series_ranked(bucket, bucket_params, where, window, since, width)


def _operation_series_ranked(bucket, bucket_params, where, window, since, width):
    """SQLite: rank the rows per bucket and keep only those the percentiles interpolate
    between, as perf.analysis does per operation."""
    table = Sample._meta.db_table
    wanted = " OR ".join(
        f"position = CAST({p!r} * (total - 1) AS INTEGER)"
        f" OR position = CAST({p!r} * (total - 1) AS INTEGER) + 1"
        for _, p in PERCENTILES
    )
    sql = (
        f"WITH bucketed AS (SELECT {bucket} AS bucket, duration, ok FROM {table} {where}), "
        "ranked AS (SELECT bucket, duration, "
        "ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY duration) - 1 AS position, "
        "COUNT(*) OVER (PARTITION BY bucket) AS total, "
        "SUM(CASE WHEN ok THEN 0 ELSE 1 END) OVER (PARTITION BY bucket) AS errors "
        "FROM bucketed) "
        f"SELECT bucket, position, duration, total, errors FROM ranked WHERE {wanted} "
        "ORDER BY bucket, position"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bucket_params, *window])
        rows = cursor.fetchall()
    values: dict[int, dict[int, float]] = defaultdict(dict)
    totals: dict[int, tuple[int, int]] = {}
    for number, position, duration, total, errors in rows:
        values[number][position] = duration
        totals[number] = (total, errors)
    return [
        OperationPoint(
            _start(since, width, number),
            total,
            errors,
            *(percentile_interpolate(values[number], total, p) for _, p in PERCENTILES),
        )
        for number, (total, errors) in sorted(totals.items())
    ]


def resource_series(
    *,
    since: datetime,
    until: datetime,
    buckets: int = DEFAULT_BUCKETS * 2,
    host: str | None = None,
) -> dict[str, list[ResourcePoint]]:
    """Each host's resource samples averaged per bucket of [since, until), oldest first."""
    window_check(since, until)
    width = bucket_width(since, until, buckets)
    bucket, bucket_params = _bucket_sql(since, width, buckets)
    averages = ", ".join(f"AVG({field})" for field in RESOURCE_FIELDS)
    params = [*(connection.ops.adapt_datetimefield_value(t) for t in (since, until))]
    where = "created_at >= %s AND created_at < %s"
    if host is not None:
        where += " AND host = %s"
        params.append(host)
    sql = (
        f"SELECT host, {bucket} AS bucket, {averages} FROM {ResourceSample._meta.db_table} "
        f"WHERE {where} GROUP BY host, bucket ORDER BY host, bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bucket_params, *params])
        rows = cursor.fetchall()
    series: dict[str, list[ResourcePoint]] = defaultdict(list)
    for name, number, *values in rows:
        start = _start(since, width, number)
        # AVG of an integer column is a numeric (Decimal) on PostgreSQL.
        averages_found = {f: float(v) for f, v in zip(RESOURCE_FIELDS, values, strict=True)}
        series[name].append(ResourcePoint(start, averages_found))
    return dict(series)
