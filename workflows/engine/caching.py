"""Dependency-aware result caching.

A cacheable step's key is the skill version's content hash, the resolved params and the lock
hash of the environment it runs in (the digest of its key and lockfile), so upgrading a package
(a new lockfile) or editing the skill (a new content hash) misses. A cacheable workflow's key is
its version's content hash, the inputs, and every step's static key (content hash, params as
written, lock hash): given the same inputs, the same code and the same packages, every
resolved param is the same, so the run's outputs are too. A hit within the TTL reuses outputs
computed by a run that really ran (copies are never the source of another copy, so the TTL
counts from the real computation).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django.conf import settings
from django.utils import timezone

from skills.installer.builder import spec_for
from skills.models import Environment, EnvironmentStatus
from workflows.models import RunStatus, StepRun, StepStatus, WorkflowRun
from workflows.validation import ValidatedWorkflow


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def lock_hash(environment: Environment) -> str:
    return _digest(environment.key, environment.lockfile)


def step_cache_key(*, content_hash: str, params: Any, lock: str) -> str:
    return _digest("step", content_hash, params, lock)


def ttl_of(ttl_seconds: float | None) -> float:
    return settings.ATOM_STEP_CACHE_TTL if ttl_seconds is None else ttl_seconds


def step_cache_lookup(*, key: str, ttl_seconds: float) -> tuple[bool, Any]:
    """(True, output) of the newest real computation under `key` within the TTL, else (False,
    None)."""
    since = timezone.now() - datetime.timedelta(seconds=ttl_seconds)
    rows = list(
        StepRun.objects.filter(
            cache_key=key, status=StepStatus.SUCCEEDED, is_cached=False, finished_at__gte=since
        )
        .order_by("-finished_at")
        .values_list("output", flat=True)[:1]
    )
    return (True, rows[0]) if rows else (False, None)


def run_cache_key(*, validated: ValidatedWorkflow, content_hash: str, inputs: Any) -> str:
    """The whole run's key, or "" when a step's environment is not built yet (no lockfile:
    nothing can have run with it)."""
    specs = {}
    for facts in validated.skills:
        if facts is None:
            return ""
        pair = (facts.language, facts.requirements)
        if pair not in specs:
            specs[pair] = spec_for(language=facts.language, requirements=list(facts.requirements))
    environments = {
        environment.key: environment
        for environment in Environment.objects.filter(
            key__in={spec.key for spec in specs.values()}, status=EnvironmentStatus.READY
        ).only("key", "lockfile")
    }
    steps = []
    for step, facts in zip(validated.steps, validated.skills, strict=True):
        environment = environments.get(specs[(facts.language, facts.requirements)].key)
        if environment is None:
            return ""
        steps.append([step.id, facts.content_hash, step.params, lock_hash(environment)])
    return _digest("run", content_hash, inputs, steps)


def run_cache_lookup(*, key: str, ttl_seconds: float) -> WorkflowRun | None:
    since = timezone.now() - datetime.timedelta(seconds=ttl_seconds)
    return (
        WorkflowRun.objects.filter(
            cache_key=key, status=RunStatus.SUCCEEDED, is_cached=False, finished_at__gte=since
        )
        .order_by("-finished_at")
        .first()
    )
