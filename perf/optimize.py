"""Recommendations derived from the samples, each with the numbers behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Avg, Count, FloatField, Max
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from perf.insights import PACKAGE_INSTALL, SKILL_LOAD, marketplace_hit_rate
from perf.models import Sample

# Recorded with the workflow's `depth` and `steps` in its context.
WORKFLOW_VALIDATION = "workflow_validation"

PRELOAD_MIN_COLD_LOADS = 5
PREBUILD_MIN_BUILDS = 2
CACHE_MIN_SEARCHES = 50
CACHE_LOW_HIT_RATE = 0.5
DAG_MIN_DEPTH = 5
DAG_MAX_PARALLELISM = 1.5  # steps per level: below this a workflow runs almost serially


@dataclass(frozen=True)
class Recommendation:
    kind: str
    subject: str
    advice: str
    evidence: str

    def as_dict(self) -> dict:
        return asdict(self)


def recommendations(*, since: datetime, until: datetime) -> list[Recommendation]:
    window = Sample.objects.filter(created_at__gte=since, created_at__lt=until)
    return [
        *_skills_to_preload(window),
        *_environments_to_prebuild(window),
        *_cache_ttl(window),
        *_dags_too_deep(window),
    ]


def _skills_to_preload(window) -> list[Recommendation]:
    rows = (
        window.filter(operation=SKILL_LOAD)  # recorded only when a runner had to load
        .exclude(skill="")
        .values("skill")
        .annotate(cold=Count("id"), mean=Avg("duration"))
        .filter(cold__gte=PRELOAD_MIN_COLD_LOADS)
        .order_by("-cold")[:10]
    )
    return [
        Recommendation(
            "preload",
            row["skill"],
            f"preload {row['skill']} in its runner pool",
            f"{row['cold']} cold loads, mean {row['mean'] * 1000:.1f} ms each",
        )
        for row in rows
    ]


def _environments_to_prebuild(window) -> list[Recommendation]:
    rows = (
        window.filter(operation=PACKAGE_INSTALL)
        .exclude(environment_key="")
        .values("environment_key")
        .annotate(builds=Count("id"), mean=Avg("duration"), slowest=Max("duration"))
        .filter(builds__gte=PREBUILD_MIN_BUILDS)
        .order_by("-builds")[:10]
    )
    return [
        Recommendation(
            "prebuild",
            row["environment_key"],
            f"pre-build environment {row['environment_key'][:16]} and keep it",
            f"built {row['builds']} times, mean {row['mean']:.2f} s, "
            f"slowest {row['slowest']:.2f} s",
        )
        for row in rows
    ]


def _cache_ttl(window) -> list[Recommendation]:
    found = marketplace_hit_rate(window)
    if found.total < CACHE_MIN_SEARCHES or found.rate >= CACHE_LOW_HIT_RATE:
        return []
    return [
        Recommendation(
            "cache_ttl",
            "marketplace",
            "raise the marketplace search cache TTL",
            f"hit rate {found.rate:.0%} over {found.total} searches",
        )
    ]


def _dags_too_deep(window) -> list[Recommendation]:
    rows = (
        window.filter(operation=WORKFLOW_VALIDATION, context__has_key="depth")
        .exclude(workflow="")
        .annotate(
            depth=Cast(KT("context__depth"), FloatField()),
            steps=Cast(KT("context__steps"), FloatField()),
        )
        .values("workflow")
        .annotate(depth=Max("depth"), steps=Max("steps"))
        .filter(depth__gte=DAG_MIN_DEPTH)
        .order_by("-depth")
    )
    found = []
    for row in rows:
        parallelism = (row["steps"] or row["depth"]) / row["depth"]
        if parallelism < DAG_MAX_PARALLELISM:
            found.append(
                Recommendation(
                    "dag",
                    row["workflow"],
                    f"split {row['workflow']} into independent branches",
                    f"depth {row['depth']:.0f} for {row['steps'] or row['depth']:.0f} steps: "
                    f"{parallelism:.2f} steps per level, so it runs almost serially",
                )
            )
    return found
