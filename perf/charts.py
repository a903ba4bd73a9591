"""Inline SVG line charts for the HTML report: a file that needs nothing but itself."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#2b7bb9", "#e8a317", "#c0392b", "#27ae60", "#8e44ad", "#555555")
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 28, 28


@dataclass(frozen=True)
class Line:
    label: str
    times: list[float]  # epoch seconds
    values: list[float]
    dashed: bool = False


def _nice_ceiling(value: float) -> float:
    """1, 2 or 5 × a power of ten at or above `value`, for a round top of the axis."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _axis_top(lines: list[Line]) -> float:
    """Fit the measured lines; a reference line (dashed) stretches the axis only when it is
    within three times the data, so a far-off budget does not flatten the data."""
    measured = [v for line in lines if not line.dashed for v in line.values if v is not None]
    highest = max(measured, default=0.0)
    references = [v for line in lines if line.dashed for v in line.values if v is not None]
    near = [v for v in references if not highest or v <= 3 * highest]
    return _nice_ceiling(max([highest, *near]) * 1.05)


def line_chart(
    lines: list[Line], *, since: float, until: float, unit: str, title: str
) -> SafeString:
    """One SVG chart of several lines over [since, until] (epoch seconds)."""
    top = _axis_top(lines)
    span = max(until - since, 1.0)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: float) -> float:
        return LEFT + (moment - since) / span * plot_width

    def y(value: float) -> float:
        return TOP + plot_height - value / top * plot_height

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        level = y(top * fraction)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" y2="{level:.1f}" '
            'class="grid"/>'
            f'<text x="{LEFT - 6}" y="{level + 4:.1f}" text-anchor="end">'
            f"{_number(top * fraction)}</text>"
        )
    parts.append(f'<text x="{LEFT - 6}" y="{HEIGHT - 8}" text-anchor="end">{escape(unit)}</text>')
    for moment, anchor in ((since, "start"), ((since + until) / 2, "middle"), (until, "end")):
        label = datetime.fromtimestamp(moment, UTC).strftime("%m-%d %H:%M")
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{label}</text>'
        )
    legend_x = LEFT + 8
    for index, line in enumerate(lines):
        colour = COLOURS[index % len(COLOURS)]
        label = line.label
        if line.dashed and any(value > top for value in line.values):
            label += f" {_number(max(line.values))} (above)"
            line = Line(line.label, [], [], dashed=True)
        points = " ".join(
            f"{x(moment):.1f},{y(value):.1f}"
            for moment, value in zip(line.times, line.values, strict=True)
            if value is not None
        )
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        if points:
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" '
                f'stroke-width="1.5"{dash}/>'
            )
        if len(line.times) == 1 and line.values[0] is not None:
            parts.append(
                f'<circle cx="{x(line.times[0]):.1f}" cy="{y(line.values[0]):.1f}" r="2.5" '
                f'fill="{colour}"/>'
            )
        parts.append(f'<text x="{legend_x}" y="14" style="fill:{colour}">{escape(label)}</text>')
        legend_x += len(label) * 6 + 18  # about 6 px per character at the chart's 10 px font
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text put in above is escaped
