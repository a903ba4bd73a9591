"""The skills app's operations for `manage.py perf benchmark`, measured on the running system's
own data and read only: nothing is installed, written or queued. Each is registered under the
operation name the app records, so `--set-baseline` gives those operations their baselines.
Imported by `SkillsConfig.ready()`, so what the measured functions need is imported when they
run, not at every process's start-up.

An operation the running system has no data for (an empty catalog, no ready environment) is
reported as skipped, not measured on something made up.
"""

from __future__ import annotations

from django.db.models import Count

from perf.benchmarking import BenchmarkSkipped, benchmark_register
from skills.models import (
    Environment,
    EnvironmentStatus,
    Skill,
    SkillLanguage,
    SkillStatus,
)
from skills.operations import DEPENDENCY_RESOLUTION, ENVIRONMENT_CACHE_HIT, MARKETPLACE_SEARCH

RESOLUTION_SKILLS = 50


def _busiest_category() -> tuple[str]:
    found = (
        Skill.objects.filter(status=SkillStatus.APPROVED)
        .values("category")
        .annotate(skills=Count("id"))
        .order_by("-skills", "category")
        .first()
    )
    if found is None:
        raise BenchmarkSkipped("no approved skill in the catalog")
    return (found["category"],)


@benchmark_register(MARKETPLACE_SEARCH, rounds=30, setup=_busiest_category)
def marketplace_search_category(category: str) -> None:
    """The first page of the busiest category, past the cache (what a miss costs)."""
    from skills.marketplace.search import skill_search

    skill_search(category=category, use_cache=False)


def _ready_environment_key() -> tuple[str]:
    key = (
        Environment.objects.filter(status=EnvironmentStatus.READY)
        .order_by("-last_used_at")
        .values_list("key", flat=True)
        .first()
    )
    if key is None:
        raise BenchmarkSkipped("no ready environment")
    return (key,)


@benchmark_register(ENVIRONMENT_CACHE_HIT, rounds=30, inner=10, setup=_ready_environment_key)
def environment_cache_hit(key: str) -> None:
    """Finding the ready environment of a requirement set that is already installed."""
    from skills.installer.builder import environment_ready_lookup

    environment_ready_lookup(key=key)


def _catalog_requirement_sets() -> tuple[dict[str, list[str]]]:
    rows = (
        Skill.objects.filter(
            status=SkillStatus.APPROVED,
            language=SkillLanguage.PYTHON,
            current_version__isnull=False,
        )
        .exclude(current_version__requirements=[])
        .order_by("slug")
        .values_list("slug", "current_version__requirements")[:RESOLUTION_SKILLS]
    )
    sets = {slug: list(requirements) for slug, requirements in rows}
    if not sets:
        raise BenchmarkSkipped("no approved Python skill with requirements")
    return (sets,)


@benchmark_register(DEPENDENCY_RESOLUTION, rounds=10, setup=_catalog_requirement_sets)
def dependency_resolution(requirement_sets: dict[str, list[str]]) -> None:
    """The catalog's (first 50) approved Python skills' requirements, resolved together as one
    environment would need them: the pre-check, then uv (resolved only, never installed)."""
    from skills.installer.resolution import dependencies_resolve

    dependencies_resolve(requirement_sets=requirement_sets, explain=True)
