"""Skill calls and recorded runs as pandas DataFrames; the notebook client serves them as
`atom.calls` and `atom.skill_runs` (docs/notebooks.md):

    import atom
    calls = atom.calls("change-case", {"text": "parseHTTPResponse"}, repeat=20)
    calls[["cache", "load_ms", "run_ms", "wall_ms"]].describe()

Calls go through `skills.runs.calls.run_skill`, as the API's and the admin's do: the skill's
environment is installed on a miss, the call runs in a warm runner, samples are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from skills.models import Agent, Skill, SkillRun
from skills.runs.calls import run_skill
from skills.runtime import CallResult

CALL_COLUMNS = [
    "call",
    "skill",
    "version",
    "content_hash",
    "ok",
    "result",
    "error_type",
    "error_message",
    "cache",
    "load_ms",
    "run_ms",
    "wall_ms",
    "cpu_ms",
    "peak_rss_kb",
    "runner_pid",
    "stdout",
    "stderr",
]


def skill_run_frame(
    slug: str,
    params: Mapping[str, Any] | None = None,
    *,
    repeat: int = 1,
    timeout: float | None = None,
    version: str | None = None,
    agent: str | None = None,
) -> pd.DataFrame:
    """Run a skill ``repeat`` times with the same params; one row per call.

    Raises `InvalidParams` (naming the field) or `SkillNotRunnable` before any call; a call
    that fails (the skill raised, a limit) is a row with ``ok`` False and its error.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    skill = Skill.objects.select_related("current_version").get(slug=slug)
    chosen = skill.versions.get(version=version) if version is not None else None
    caller = Agent.objects.get(slug=agent) if agent is not None else None
    rows = []
    for number in range(repeat):
        result = run_skill(skill, params, timeout=timeout, agent=caller, version=chosen)
        rows.append(_call_row(number, skill, chosen or skill.current_version, result))
    return pd.DataFrame.from_records(rows, columns=CALL_COLUMNS)


def _call_row(number: int, skill: Skill, version: Any, result: CallResult) -> dict[str, Any]:
    error = result.error
    return {
        "call": number,
        "skill": skill.slug,
        "version": version.version,
        "content_hash": result.content_hash or version.content_hash,
        "ok": result.ok,
        "result": result.result,
        "error_type": error.type if error else None,
        "error_message": error.message if error else None,
        "cache": result.cache,
        "load_ms": result.load_seconds * 1e3,
        "run_ms": result.duration_seconds * 1e3,
        "wall_ms": result.wall_seconds * 1e3,
        "cpu_ms": None if result.cpu_seconds is None else result.cpu_seconds * 1e3,
        "peak_rss_kb": result.peak_rss_kb,
        "runner_pid": result.runner_pid,
        "stdout": result.stdout.text,
        "stderr": result.stderr.text,
    }


def skill_runs_frame(slug: str | None = None, *, limit: int = 1_000) -> pd.DataFrame:
    """Recorded runs (API, admin "try it"), newest first, optionally of one skill."""
    runs = SkillRun.objects.order_by("-created_at", "-id")
    if slug is not None:
        runs = runs.filter(skill__slug=slug)
    fields = [
        "id",
        "skill__slug",
        "version__version",
        "status",
        "is_queued",
        "requested_by__username",
        "agent__slug",
        "error_type",
        "cache",
        "load_seconds",
        "duration_seconds",
        "wall_seconds",
        "cpu_seconds",
        "peak_rss_kb",
        "created_at",
        "finished_at",
    ]
    frame = pd.DataFrame.from_records(runs.values(*fields)[:limit], columns=fields)
    return frame.rename(
        columns={
            "skill__slug": "skill",
            "version__version": "version",
            "requested_by__username": "requested_by",
            "agent__slug": "agent",
        }
    )
