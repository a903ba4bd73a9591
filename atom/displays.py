"""HTML for the notebook's objects (`_repr_html_`): cards, tables and a run's Gantt chart as
inline SVG (no script, no CDN, so a notebook saved with its outputs shows them anywhere)."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from atom.configure import in_orm_thread
from atom.frames import STEP_COLUMNS, step_rows
from atom.lookup import run_find
from atom.tables import typed_frame

if TYPE_CHECKING:
    from atom.actions import Installed, SkillCall
    from atom.views import EnvironmentView, SkillView, WorkflowView

STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "running": "#1565c0",
    "queued": "#9e9e9e",
    "pending": "#bdbdbd",
    "skipped": "#8d6e63",
    "cancelled": "#6d4c41",
    "ready": "#2e7d32",
    "building": "#1565c0",
}
GANTT_ROW, GANTT_WIDTH, GANTT_LABEL = 20, 560, 140


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def _bytes(value: int | None) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _when(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M:%S %Z}"


def _status(value: str) -> str:
    colour = STATUS_COLOURS.get(value, "#555")
    return f'<span style="color:{colour};font-weight:bold">{escape(value)}</span>'


def _facts(rows: list[tuple[str, str]]) -> str:
    """A two-column table; values are HTML already escaped by the caller."""
    body = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{escape(name)}</th>'
        f"<td>{value}</td></tr>"
        for name, value in rows
    )
    return f"<table>{body}</table>"


def _card(title: str, body: str) -> str:
    return (
        '<div style="border:1px solid #ccd;border-radius:6px;padding:0.6em 1em;max-width:52em">'
        f'<h4 style="margin:0 0 0.4em 0">{title}</h4>{body}</div>'
    )


def skill_html(view: SkillView) -> str:
    cost = view.cost
    properties = (view.inputs_schema or {}).get("properties") or {}
    inputs = ", ".join(
        f"<code>{escape(name)}</code> ({escape(str(spec.get('type', 'any')))})"
        for name, spec in properties.items()
        if isinstance(spec, dict)
    )
    rows = [
        ("version", escape(view.version or "–")),
        ("status", _status(view.status)),
        ("category · type · language", escape(f"{view.category} · {view.type} · {view.language}")),
        ("inputs", inputs or "–"),
        ("packages", escape(", ".join(view.requirements)) or "none"),
        ("installs · runs", f"{view.install_count:,} · {view.run_count:,}"),
    ]
    if cost is not None:
        warm = "built here: installing is a lookup" if cost.is_warm else "not built here"
        rows += [
            ("environment", f"<code>{escape((cost.environment_key or '–')[:12])}</code> {warm}"),
            ("size · last build", f"{_bytes(cost.size_bytes)} · {_seconds(cost.build_seconds)}"),
            ("run p50", f"{_seconds(cost.run_p50_seconds)} ({cost.run_samples} samples)"),
        ]
    title = f"Skill <code>{escape(view.slug)}</code>: {escape(view.description[:120])}"
    return _card(title, _facts(rows))


def environment_html(view: EnvironmentView) -> str:
    rows = [
        ("status", _status(view.status)),
        ("backend · interpreter", escape(f"{view.backend} · {view.interpreter}")),
        ("requirements", escape(", ".join(view.requirements)) or "none"),
        ("pinned", escape(", ".join(view.pins[:20])) + (" …" if len(view.pins) > 20 else "")),
        ("size · build", f"{_bytes(view.size_bytes)} · {_seconds(view.build_seconds)}"),
        ("used", f"{view.use_count:,} times, last {_when(view.last_used_at)}"),
        ("skills installed with it", escape(", ".join(view.skills)) or "–"),
        ("location", f"<code>{escape(view.location)}</code>"),
    ]
    if view.error:
        rows.append(("error", f"<pre>{escape(view.error)}</pre>"))
    return _card(f"Environment <code>{escape(view.key[:12])}</code>", _facts(rows))


def workflow_html(view: WorkflowView) -> str:
    estimate = view.estimate
    rows = [
        (
            "steps · depth · width",
            f"{view.step_count} · {view.analysis.depth} · {view.analysis.width}",
        ),
        ("critical path", escape(" → ".join(view.critical_path))),
        (
            "estimate",
            f"p50 {_seconds(estimate['p50_seconds'])}, p95 {_seconds(estimate['p95_seconds'])} "
            f"({escape(str(estimate['note']))})",
        ),
        (
            "environments to build",
            escape(", ".join(n.key[:12] for n in view.analysis.environments)) or "none",
        ),
    ]
    title = f"Workflow <code>{escape(view.slug)}</code> {escape(view.version)}: {escape(view.name)}"
    # dag_svg escapes every label it draws.
    return _card(title, _facts(rows) + view.svg)


def installed_html(installed: Installed) -> str:
    rows = [
        ("status", _status(installed.status)),
        ("cache hit", "yes" if installed.cache_hit else "no: built now"),
        ("environment", f"<code>{escape(installed.environment[:12])}</code>"),
        ("took", _seconds(installed.total_seconds)),
    ]
    if installed.error:
        rows.append(("error", f"<pre>{escape(installed.error)}</pre>"))
    return _card(
        f"Install of <code>{escape(installed.skill)}</code> (job {installed.job})", _facts(rows)
    )


def skill_call_html(call: SkillCall) -> str:
    result = json.dumps(call.result, indent=2, ensure_ascii=False, default=str)
    rows = [
        ("result", f"<pre>{escape(result[:4000])}</pre>"),
        ("runner cache", escape(call.cache or "–")),
        (
            "load · run · end to end",
            " · ".join(map(_seconds, (call.load_seconds, call.run_seconds, call.wall_seconds))),
        ),
    ]
    if call.stderr:
        rows.append(("stderr", f"<pre>{escape(call.stderr[-2000:])}</pre>"))
    return _card(f"Call of <code>{escape(call.skill)}</code>", _facts(rows))


def gantt_svg(steps: list[dict[str, Any]], *, start: datetime | None) -> str:
    """One bar per step from its start to its end (now for a running one), coloured by status,
    on a shared time axis from the run's start."""
    timed = [step for step in steps if step.get("started_at") is not None]
    if not timed or start is None:
        return "<p>No step has started yet.</p>"
    now = max((step.get("finished_at") or step["started_at"] for step in timed), default=start)
    span = max((now - start).total_seconds(), 1e-3)
    height = GANTT_ROW * len(steps) + 24

    def x(moment: datetime) -> float:
        return GANTT_LABEL + GANTT_WIDTH * (moment - start).total_seconds() / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{GANTT_LABEL + GANTT_WIDTH + 10}" '
        f'height="{height}" font-family="sans-serif" font-size="11" role="img" '
        'aria-label="when each step ran">'
    ]
    for row, step in enumerate(steps):
        y = row * GANTT_ROW + 4
        parts.append(f'<text x="0" y="{y + 12}">{escape(str(step["step"])[:22])}</text>')
        if step.get("started_at") is None:
            continue
        finished = step.get("finished_at") or now
        begin, end = x(step["started_at"]), x(finished)
        colour = STATUS_COLOURS.get(step["status"], "#555")
        took = _seconds((finished - step["started_at"]).total_seconds())
        title = escape(f"{step['step']}: {step['status']}, {took}")
        parts.append(
            f'<rect x="{begin:.1f}" y="{y}" width="{max(end - begin, 1.5):.1f}" '
            f'height="{GANTT_ROW - 6}" fill="{colour}"><title>{title}</title></rect>'
        )
    axis_y = GANTT_ROW * len(steps) + 18
    parts.append(
        f'<text x="{GANTT_LABEL}" y="{axis_y}" fill="#555">0</text>'
        f'<text x="{GANTT_LABEL + GANTT_WIDTH}" y="{axis_y}" fill="#555" text-anchor="end">'
        f"{_seconds(span)}</text></svg>"
    )
    return "".join(parts)


@in_orm_thread
def run_html(run_id: int) -> str:
    run = run_find(run_id)
    steps = step_rows(run.pk)
    rows = [
        ("status", _status(run.status)),
        ("took", _seconds(run.duration_seconds)),
        ("started", _when(run.started_at)),
    ]
    if run.is_cached:
        rows.append(("cache", "every output reused from an earlier run"))
    if run.error_type or run.error_message:
        rows.append(("error", f"<pre>{escape(f'{run.error_type}: {run.error_message}')}</pre>"))
    failed = [step for step in steps if step["status"] == "failed"]
    for step in failed:
        error = f"{step['error_type']}: {step['error_message']}"
        rows.append((f"step {step['step']}", f"<pre>{escape(error)}</pre>"))
    table = typed_frame(steps, STEP_COLUMNS)[
        [
            "step",
            "skill",
            "status",
            "attempt",
            "is_cached",
            "duration_seconds",
            "wall_seconds",
            "error_message",
        ]
    ].to_html(index=False, na_rep="–", border=0)
    title = (
        f"Run {run.pk} of <code>{escape(run.workflow.slug)}</code> {escape(run.version.version)}"
    )
    return _card(title, _facts(rows) + gantt_svg(steps, start=run.started_at) + table)


def summary_html(frame: pd.DataFrame) -> str:
    since, until = getattr(frame, "since", None), getattr(frame, "until", None)
    shown = pd.DataFrame(frame).copy()
    for name in (
        "average",
        "minimum",
        "maximum",
        "p50",
        "p95",
        "p99",
        "budget",
        "baseline_p50",
        "baseline_p95",
        "baseline_p99",
    ):
        if name in shown:
            shown[name] = shown[name].map(lambda value: "–" if pd.isna(value) else _seconds(value))
    if "is_over_budget" in shown:
        shown["is_over_budget"] = shown["is_over_budget"].map(
            lambda value: "OVER BUDGET" if value is True else ("within" if value is False else "–")
        )
    window = f"{_when(since)} to {_when(until)}" if since is not None else ""
    table = shown.to_html(index=False, na_rep="–", border=0)
    return _card(f"Summary {escape(window)}", table)
