"""Time windows as people type them: ISO 8601 instants or spans back from now ("24h")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone

SPAN = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class WindowError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def moment_parse(text: str, *, now: datetime) -> datetime:
    """ "now", a span back from now ("90s", "15m", "24h", "7d", "2w"), or an ISO 8601 instant
    (naive instants are UTC)."""
    value = text.strip().lower()
    if value == "now":
        return now
    span = SPAN.match(value)
    if span:
        return now - timedelta(**{UNITS[span.group(2)]: float(span.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 instant nor a span like 24h") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def window_parse(
    *,
    since: str | None,
    until: str | None,
    default_span: timedelta,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The [since, until) window named by two optional strings; until defaults to now."""
    now = now or timezone.now()
    parsed = {}
    for field, text in (("since", since), ("until", until)):
        if text is None or text.strip() == "":
            continue
        try:
            parsed[field] = moment_parse(text, now=now)
        except (ValueError, OverflowError) as error:
            raise WindowError(field, str(error)) from None
    end = parsed.get("until", now)
    start = parsed.get("since", end - default_span)
    if start >= end:
        raise WindowError(
            "since",
            f"the window starts ({start:%Y-%m-%dT%H:%M:%S%z}) at or after "
            f"it ends ({end:%Y-%m-%dT%H:%M:%S%z})",
        )
    return start, end
