"""What installing and running a skill costs, for a page of search results.

For each skill: how many packages its current version asks for, the environment those packages
make (the same key the installer builds under), whether that environment is already built and
present on this host ("warm"), its size and last build time, and the median run time of the
current version from the perf samples. A whole page costs two queries (environments, then run
percentiles), whatever its size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from perf.analysis import median_by_skill
from skills.installer.backends import backend_get
from skills.installer.builder import spec_for
from skills.installer.keys import InterpreterError
from skills.models import Environment, EnvironmentBackend, EnvironmentStatus, Skill
from skills.operations import SKILL_RUN
from skills.policy import PolicyError, policy_current
from skills.requirements import RequirementError


@dataclass(frozen=True)
class CostSubject:
    """One result to price: its slug, and its current version (when it has one)."""

    slug: str
    language: str
    requirements: tuple[str, ...] | None
    content_hash: str | None


@dataclass(frozen=True)
class InstallCost:
    package_count: int | None
    # None when this host would refuse to build it (policy, an invalid requirement).
    environment_key: str | None
    environment_status: str | None  # None: never requested here
    is_warm: bool
    size_bytes: int | None
    build_seconds: float | None
    built_at: datetime | None
    run_p50_seconds: float | None
    run_samples: int


def cost_subject_of(skill: Skill) -> CostSubject:
    """The subject of a skill loaded with its current version."""
    version = skill.current_version
    return CostSubject(
        slug=skill.slug,
        language=skill.language,
        requirements=tuple(version.requirements or []) if version else None,
        content_hash=version.content_hash if version else None,
    )


def install_costs(subjects: list[CostSubject]) -> dict[str, InstallCost]:
    """The cost of each subject, by slug (two queries for the whole list)."""
    fingerprint = _settings_fingerprint()
    keys = {
        subject.slug: _environment_key(subject.language, subject.requirements, fingerprint)
        for subject in subjects
        if subject.requirements is not None
    }
    environments = {
        environment.key: environment
        for environment in Environment.objects.filter(key__in={k for k in keys.values() if k})
        .only("key", "status", "backend", "location", "size_bytes", "build_seconds", "ready_at")
        .order_by()
    }
    runs = median_by_skill(
        operation=SKILL_RUN,
        versions={
            subject.slug: subject.content_hash for subject in subjects if subject.content_hash
        },
    )
    costs = {}
    for subject in subjects:
        key = keys.get(subject.slug)
        environment = environments.get(key) if key else None
        p50, count = runs.get(subject.slug, (None, 0))
        costs[subject.slug] = InstallCost(
            package_count=len(subject.requirements) if subject.requirements is not None else None,
            environment_key=key,
            environment_status=environment.status if environment else None,
            is_warm=environment is not None and _is_present(environment),
            size_bytes=environment.size_bytes if environment else None,
            build_seconds=environment.build_seconds if environment else None,
            built_at=environment.ready_at if environment else None,
            run_p50_seconds=p50,
            run_samples=count,
        )
    return costs


def _is_present(environment: Environment) -> bool:
    if environment.status != EnvironmentStatus.READY:
        return False
    if environment.backend == EnvironmentBackend.DOCKER:
        return True  # asking the engine per result would cost a round trip each
    return backend_get(environment.backend).is_present(environment.location)


def _settings_fingerprint() -> tuple[str, ...]:
    """Everything besides the requirements that enters an environment key."""
    return (
        policy_current().version,
        settings.ATOM_INSTALL_BACKEND,
        settings.ATOM_DOCKER_BASE_IMAGE,
        settings.ATOM_INSTALL_PYTHON,  # python_interpreter_path() resolves it: a syscall each
        settings.ATOM_NODE_BIN,
    )


@functools.lru_cache(maxsize=8192)
def _environment_key(
    language: str, requirements: tuple[str, ...], fingerprint: tuple[str, ...]
) -> str | None:
    # Parsing and normalizing requirements is costly enough to do once per set and settings.
    try:
        return spec_for(language=language, requirements=list(requirements)).key
    except (PolicyError, RequirementError, InterpreterError):
        return None
