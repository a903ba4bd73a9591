"""Figures as the dashboard and the report print them."""

from django import template

register = template.Library()


@register.filter
def ms(seconds: float | None) -> str:
    """Seconds as milliseconds with enough digits for microsecond operations."""
    if seconds is None:
        return "—"
    milliseconds = seconds * 1000
    if milliseconds >= 100:
        return f"{milliseconds:.0f}"
    if milliseconds >= 1:
        return f"{milliseconds:.2f}"
    return f"{milliseconds:.4f}"


@register.filter
def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction:.0%}"


@register.filter
def statistic(summary, name: str) -> float | None:
    """`summary.p95` for a statistic named at run time (a budget's or a baseline's)."""
    return None if summary is None or not name else getattr(summary, name)


@register.filter
def rate(bytes_per_second: float | None) -> str:
    if bytes_per_second is None:
        return "—"
    for unit in ("B/s", "kB/s", "MB/s"):
        if bytes_per_second < 1000:
            return f"{bytes_per_second:.0f} {unit}"
        bytes_per_second /= 1000
    return f"{bytes_per_second:.1f} GB/s"


@register.filter
def ms_input(seconds: float) -> str:
    """Seconds as the milliseconds a budget field shows: exact, without trailing zeros."""
    return f"{round(seconds * 1000, 6):g}"
