# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "date-diff"
# version = "1.0.0"
# category = "time"
# type = "analyze"
# description = """The time between two dates: total days and weeks, business days (Monday to \
# Friday, minus given holidays), and the calendar difference in years, months and days."""
# tags = ["date", "duration", "business-days", "calendar", "time"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["start", "end"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.start]
# type = "string"
# format = "date"
#
# [tool.atom.inputs.properties.end]
# type = "string"
# format = "date"
#
# [tool.atom.inputs.properties.holidays]
# type = "array"
# items = { type = "string", format = "date" }
# default = []
#
# [[tool.atom.examples]]
# input = { start = "2024-01-15", end = "2025-03-01", holidays = ["2024-12-25", "2025-01-01"] }
# [tool.atom.examples.output]
# days = 411
# weeks = 58.71
# business_days = 293
# calendar = { years = 1, months = 1, days = 14 }
# ///
import calendar
import datetime as dt


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by ``months`` calendar months, clamped to the end of the month."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return day.replace(
        year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1])
    )


def run(start: str, end: str, holidays: list[str] | None = None) -> dict:
    """Return the distance from ``start`` to ``end`` (end excluded; negative if end is first)."""
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    sign, (a, b) = (1, (a, b)) if a <= b else (-1, (b, a))
    days = (b - a).days
    full_weeks, rest = divmod(days, 7)
    business = full_weeks * 5 + sum(
        (a + dt.timedelta(full_weeks * 7 + i)).weekday() < 5 for i in range(rest)
    )
    off = {dt.date.fromisoformat(h) for h in holidays or []}
    business -= sum(a <= h < b and h.weekday() < 5 for h in off)
    months = (b.year - a.year) * 12 + b.month - a.month - (b.day < a.day)
    years, months = divmod(months, 12)
    rest_days = (b - _add_months(a, years * 12 + months)).days
    return {
        "days": sign * days,
        "weeks": round(sign * days / 7, 2),
        "business_days": sign * business,
        "calendar": {"years": sign * years, "months": sign * months, "days": sign * rest_days},
    }
