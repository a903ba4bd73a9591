"""What a valid workflow would do before it runs: its shape (depth, width, generations, critical
path), a wall-time estimate from the perf samples of each skill version, the environments that
would need building, and the requirement conflicts between steps.

It starts from a `ValidatedWorkflow` and queries the database at most three times, whatever the
number of steps: run samples of every skill version (one query), the environments by key (one),
and build samples of the environments that have never been built here (one, only when some are).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import connection

from perf.analysis import percentile_interpolate
from perf.models import Sample
from skills.installer.builder import spec_for
from skills.installer.keys import InterpreterError
from skills.installer.resolution import conflicts_precheck
from skills.models import Environment, EnvironmentStatus
from skills.operations import PACKAGE_INSTALL, SKILL_RUN
from skills.policy import PolicyError, policy_current
from skills.requirements import RequirementError
from workflows.dag import longest_path
from workflows.validation import SkillFacts, ValidatedWorkflow

FRACTIONS = (0.5, 0.95)


@dataclass(frozen=True, slots=True)
class StepEstimate:
    step: str
    skill: str
    version: str
    content_hash: str
    p50_seconds: float | None  # None: no data
    p95_seconds: float | None
    samples: int


@dataclass(slots=True)
class EnvironmentNeed:
    """An environment some steps run in that is not ready here yet."""

    key: str
    language: str
    requirements: list[str]
    status: str  # "missing" (never requested here), or the row's status
    steps: list[str]
    estimated_build_seconds: float | None
    estimate_source: str  # "last build", "package_install p50 (n samples)", "no data"


@dataclass(slots=True)
class ConflictReport:
    package: str
    language: str
    reason: str
    requests: list[dict[str, object]]  # {skill, version, steps, specifier}


@dataclass(slots=True)
class Analysis:
    depth: int
    width: int
    generations: list[list[str]]
    critical_path: list[str]
    estimate: dict[str, object]
    steps: list[StepEstimate]
    environments: list[EnvironmentNeed]
    refused_environments: list[dict[str, object]] = field(default_factory=list)
    conflicts: list[ConflictReport] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def workflow_analyze(*, validated: ValidatedWorkflow) -> Analysis:
    graph = validated.graph
    facts = validated.skills
    ids = graph.ids
    runs = run_percentiles(
        pairs={(f.slug, f.content_hash) for f in facts if f is not None},
    )
    estimates = []
    p50_weights, p95_weights = [], []
    without_data = []
    for step_id, fact in zip(ids, facts, strict=True):
        p50, p95, count = runs.get((fact.slug, fact.content_hash), (None, None, 0))
        estimates.append(
            StepEstimate(step_id, fact.slug, fact.version, fact.content_hash, p50, p95, count)
        )
        p50_weights.append(p50 or 0.0)
        p95_weights.append(p95 or 0.0)
        if not count:
            without_data.append(step_id)
    p50_total, critical = longest_path(graph, p50_weights)
    p95_total, _ = longest_path(graph, p95_weights)
    with_data = len(ids) - len(without_data)
    estimate = {
        "p50_seconds": p50_total if with_data else None,
        "p95_seconds": p95_total if with_data else None,
        "steps_with_data": with_data,
        "steps_without_data": without_data,
        "samples": sum(estimate.samples for estimate in estimates),
        "is_complete": not without_data,
        "note": _estimate_note(with_data, len(without_data)),
    }
    needs, refused = environments_needed(steps=ids, facts=facts)
    return Analysis(
        depth=graph.depth,
        width=graph.width,
        generations=[[ids[node] for node in generation] for generation in graph.generations],
        critical_path=[ids[node] for node in critical],
        estimate=estimate,
        steps=estimates,
        environments=needs,
        refused_environments=refused,
        conflicts=conflicts_between_steps(steps=ids, facts=facts),
    )


def _estimate_note(with_data: int, without: int) -> str:
    if not with_data:
        return "no data: no step's skill version has run here yet"
    if without:
        return f"{without} step(s) have no data and count as 0 s: a lower bound"
    return "every step has run-time samples"


# Samples ---------------------------------------------------------------------------------------


def run_percentiles(*, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    """p50, p95 and count of the successful `skill_run` samples of each (skill slug, content
    hash), in one query over perf's (skill, version, operation) index."""
    return _percentiles(operation=SKILL_RUN, columns=("skill", "version"), keys=sorted(pairs))


def build_percentiles(*, keys: set[str]) -> dict[str, tuple]:
    found = _percentiles(
        operation=PACKAGE_INSTALL, columns=("environment_key",), keys=[(k,) for k in sorted(keys)]
    )
    return {key[0]: value for key, value in found.items()}


def _percentiles(
    *, operation: str, columns: Sequence[str], keys: list[tuple[str, ...]]
) -> dict[tuple[str, ...], tuple]:
    if not keys:
        return {}
    table = Sample._meta.db_table
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join("%s::text[]" for _ in columns)
        sql = (
            f"SELECT {names}, percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration),"
            f" COUNT(*) FROM {table} WHERE operation = %s AND ok "
            + ("AND skill <> '' " if "skill" in columns else "")
            + f"AND ({names}) IN (SELECT * FROM unnest({arrays})) GROUP BY {names}"
        )
        params: list = [operation, *([key[i] for key in keys] for i in range(len(columns)))]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            width = len(columns)
            return {
                tuple(row[:width]): (row[width][0], row[width][1], row[width + 1])
                for row in cursor.fetchall()
            }
    # SQLite: rank each group's durations and keep the rows the percentiles interpolate between
    # (as perf.analysis does). The partial index is used only when its condition is written out.
    match = "(" + " AND ".join(f"{column} = %s" for column in columns) + ")"
    wanted = " OR ".join(
        f"position = CAST({p!r} * (total - 1) AS INTEGER)"
        f" OR position = CAST({p!r} * (total - 1) AS INTEGER) + 1"
        for p in FRACTIONS
    )
    partial = "NOT (skill = '') AND " if "skill" in columns else ""
    sql = (
        f"WITH ranked AS (SELECT {names}, duration, "
        f"ROW_NUMBER() OVER (PARTITION BY {names} ORDER BY duration) - 1 AS position, "
        f"COUNT(*) OVER (PARTITION BY {names}) AS total "
        f"FROM {table} WHERE {partial}operation = %s AND ok AND "
        f"({' OR '.join([match] * len(keys))})) "
        f"SELECT {names}, position, total, duration FROM ranked WHERE {wanted}"
    )
    params = [operation, *(value for key in keys for value in key)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(columns)
    positions: dict[tuple, dict[int, float]] = defaultdict(dict)
    totals: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row[:width])
        position, total, duration = row[width:]
        positions[key][position] = duration
        totals[key] = total
    return {
        key: (
            percentile_interpolate(positions[key], total, 0.5),
            percentile_interpolate(positions[key], total, 0.95),
            total,
        )
        for key, total in totals.items()
    }


# Environments ----------------------------------------------------------------------------------


def environments_needed(
    *, steps: list[str], facts: Sequence[SkillFacts | None]
) -> tuple[list[EnvironmentNeed], list[dict[str, object]]]:
    """The environments the steps run in that are not ready here, with an estimated build
    time; and the requirement sets this host's policy would refuse to build."""
    fingerprint = _settings_fingerprint()
    by_key: dict[str, EnvironmentNeed] = {}
    refused: dict[str, dict[str, object]] = {}
    for step, fact in zip(steps, facts, strict=True):
        if fact is None:
            continue
        key, problem = _environment_key(fact.language, fact.requirements, fingerprint)
        if key is None:
            entry = refused.setdefault(
                fact.slug, {"skill": fact.slug, "reason": problem, "steps": []}
            )
            entry["steps"].append(step)  # type: ignore[union-attr]
            continue
        need = by_key.get(key)
        if need is None:
            need = by_key[key] = EnvironmentNeed(
                key, fact.language, list(fact.requirements), "missing", [], None, "no data"
            )
        need.steps.append(step)
    rows = {
        row.key: row
        for row in Environment.objects.filter(key__in=list(by_key))
        .only("key", "status", "build_seconds")
        .order_by()
    }
    needs = []
    for key, need in by_key.items():
        row = rows.get(key)
        if row is not None and row.status == EnvironmentStatus.READY:
            continue
        if row is not None:
            need.status = row.status
            if row.build_seconds is not None:
                need.estimated_build_seconds = row.build_seconds
                need.estimate_source = "last build"
        needs.append(need)
    unknown = {need.key for need in needs if need.estimated_build_seconds is None}
    if unknown:
        for key, (p50, _, count) in build_percentiles(keys=unknown).items():
            need = by_key[key]
            need.estimated_build_seconds = p50
            need.estimate_source = f"package_install p50 ({count} samples)"
    return needs, list(refused.values())


def _settings_fingerprint() -> tuple[str, ...]:
    """Everything besides the requirements that enters an environment key."""
    return (
        policy_current().version,
        settings.ATOM_INSTALL_BACKEND,
        settings.ATOM_DOCKER_BASE_IMAGE,
        settings.ATOM_INSTALL_PYTHON,
        settings.ATOM_NODE_BIN,
    )


@functools.lru_cache(maxsize=8192)
def _environment_key(
    language: str, requirements: tuple[str, ...], fingerprint: tuple[str, ...]
) -> tuple[str | None, str]:
    # Normalizing requirements (and asking the interpreter its version) is done once per set.
    try:
        return spec_for(language=language, requirements=list(requirements)).key, ""
    except (PolicyError, RequirementError, InterpreterError) as error:
        return None, str(error)


# Conflicts -------------------------------------------------------------------------------------


def conflicts_between_steps(
    *, steps: list[str], facts: Sequence[SkillFacts | None]
) -> list[ConflictReport]:
    """Packages the steps' skill versions ask for in ranges that cannot meet (the installer's
    pre-check), each reported as which skill version, used by which steps, asks for what."""
    labels: dict[str, list[str]] = defaultdict(list)  # "slug@version" → steps
    sets: dict[str, dict[str, list[str]]] = defaultdict(dict)  # language → label → requirements
    for step, fact in zip(steps, facts, strict=True):
        if fact is None or not fact.requirements:
            continue
        label = f"{fact.slug}@{fact.version}"
        labels[label].append(step)
        sets[fact.language][label] = list(fact.requirements)
    reports = []
    for language, requirement_sets in sorted(sets.items()):
        if len(requirement_sets) < 2:
            continue
        for conflict in conflicts_precheck(requirement_sets=requirement_sets, language=language):
            requests = []
            for request in conflict.requests:
                slug, _, version = request.skill.partition("@")
                requests.append(
                    {
                        "skill": slug,
                        "version": version,
                        "steps": labels[request.skill],
                        "specifier": request.specifier,
                    }
                )
            reports.append(ConflictReport(conflict.package, language, conflict.reason, requests))
    return reports
