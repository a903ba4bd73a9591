"""DataFrames with declared column types (nullable integers, strings, booleans, tz-aware times),
and the time windows the notebook functions take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.utils import timezone

from perf.windows import moment_parse

# Column kinds and the pandas dtype each becomes.
TEXT, INTEGER, NUMBER, FLAG, TIME, OBJECT = "text", "integer", "number", "flag", "time", "object"
DTYPES = {TEXT: "string", INTEGER: "Int64", NUMBER: "Float64", FLAG: "boolean", OBJECT: "object"}

Moment = str | datetime | timedelta | pd.Timestamp | None


def time_zone() -> str:
    return settings.TIME_ZONE or "UTC"


def typed_frame(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A frame with exactly `columns` (name → kind), typed even when there are no rows.

    Times are tz-aware, in the settings' TIME_ZONE (the server's).
    """
    records = [{name: row.get(name) for name in columns} for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(columns))
    for name, kind in columns.items():
        if kind == TIME:
            frame[name] = pd.to_datetime(frame[name], utc=True).dt.tz_convert(time_zone())
        elif kind == OBJECT:
            frame[name] = frame[name].astype("object")
        else:
            frame[name] = frame[name].astype(DTYPES[kind])
    return frame


def moment_of(value: Moment, *, field: str, now: datetime) -> datetime | None:
    """A datetime from a string ("24h", "now", ISO 8601), a timedelta back from now, or a
    datetime (naive ones are UTC); a ValueError naming `field` otherwise."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, timedelta):
        return now - value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return moment_parse(value, now=now)
        except (ValueError, OverflowError) as error:
            raise ValueError(f"{field}: {error}") from None
    raise ValueError(
        f"{field}: give a datetime, a timedelta back from now or a string like '24h', "
        f"not {type(value).__name__}"
    )


def window_of(
    since: Moment, until: Moment, *, default_span: timedelta | None
) -> tuple[datetime | None, datetime | None]:
    """[since, until): until defaults to now, since to `default_span` before until (or open).
    A window in the wrong order is a ValueError naming since and until."""
    now = timezone.now()
    start = moment_of(since, field="since", now=now)
    end = moment_of(until, field="until", now=now)
    if end is None and (start is not None or default_span is not None):
        end = now
    if start is None and default_span is not None:
        start = end - default_span
    if start is not None and end is not None and start >= end:
        raise ValueError(
            f"since ({start.isoformat()}) is at or after until ({end.isoformat()}): "
            "a window runs from since to a later until"
        )
    return start, end
