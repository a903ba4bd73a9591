"""One way to run a skill: validate its params, ensure its environment, call a warm runner.

The API, the admin's "try it" form, workflow steps and notebooks all call `run_skill`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from django.conf import settings
from django.db.models import F

from perf.recording import measure_performance
from skills.installer.backends import BackendUnavailable
from skills.installer.builder import (
    environment_for_skill_version,
    environment_ready_lookup,
    spec_for,
)
from skills.models import Agent, Environment, EnvironmentBackend, Skill, SkillLanguage, SkillVersion
from skills.policy import PolicyError, policy_network_allowed
from skills.requirements import RequirementError
from skills.runtime import CallLimits, CallResult, RunnerPool, pool_for, registry
from skills.runtime.docker import DockerUnavailable, docker_call


class SkillNotRunnable(ValueError):
    """The skill has nothing this host can run (no version, or an environment it cannot use)."""


class InvalidParams(ValueError):
    """The params do not match the skill's inputs schema; ``field`` names where (a 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def params_field(self) -> str:
        """The field as a caller posting ``{"params": ...}`` names it (``params.text``)."""
        return "params" if self.field == "params" else f"params.{self.field}"


def params_validate(*, schema: Mapping[str, Any] | None, params: Mapping[str, Any]) -> None:
    """Raise InvalidParams for the first problem, naming the field (``text``, ``items.2``)."""
    if not isinstance(params, Mapping):
        raise InvalidParams("params", "must be an object")
    if not schema:
        return
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(params)))
    if error is None:
        return
    path = [str(part) for part in error.absolute_path]
    if not path and error.validator == "required":
        missing = next((name for name in error.validator_value if name not in params), None)
        path = [missing] if missing else []
    if not path and error.validator == "additionalProperties":
        extra = sorted(set(params) - set(schema.get("properties", {})))
        path = extra[:1]
    raise InvalidParams(".".join(path) or "params", error.message)


def run_skill(
    skill: Skill,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    agent: Agent | None = None,
    version: SkillVersion | None = None,
) -> CallResult:
    """Run one version of a skill (its current one by default) and return what it answered.

    Ensures the environment (installing it on a miss), takes a warm runner of that
    environment's pool, and runs exactly the recorded version: a runner that holds another
    version reloads first, and the source kept in the database is sent when the file on disk
    has moved on. The timeout defaults to the version's own and is capped by
    ``ATOM_RUN_TIMEOUT_CAP``; its memory limit is the version's ``memory_mb`` or the default.
    The call's samples (skill_run, and skill_load / hot_reload when it loaded) are recorded.
    A Docker environment runs the call in a fresh container of its image instead.
    """
    version = version or skill.current_version
    if version is None:
        raise SkillNotRunnable(f"{skill.slug} has no version to run")
    params = params if params is not None else {}
    params_validate(schema=version.inputs_schema, params=params)
    params = dict(params)
    metadata = version.metadata or {}
    limits = call_limits(version=version, timeout=timeout)
    try:
        environment = environment_for_skill_version(skill_version=version)
    except (PolicyError, RequirementError) as refused:
        raise SkillNotRunnable(f"{skill.slug} {version.version}: {refused}") from None
    network = policy_network_allowed(requested=bool(metadata.get("network")))
    call = {
        "skill_id": skill.slug,
        "path": skill.source_path or version.filename,
        "content_hash": version.content_hash,
        "entrypoint": version.entrypoint,
        "params": params,
        "limits": limits,
    }
    if environment.backend == EnvironmentBackend.DOCKER:
        context = {"agent": agent.slug} if agent is not None else {}
        with measure_performance(
            "skill_run",
            skill=skill.slug,
            version=version.content_hash,
            environment_key=environment.key,
            backend="docker",
            **context,
        ):
            result = docker_call(
                image=environment.location, source=version.source, network=network, **call
            )
    else:
        result = environment_pool(environment, network=network).call(
            **call,
            source=lambda: version.source,
            sample_context={"agent": agent.slug} if agent is not None else None,
        )
    Skill.objects.filter(pk=skill.pk).update(run_count=F("run_count") + 1)
    return result


def call_limits(*, version: SkillVersion, timeout: float | None) -> CallLimits:
    """The limits of one call of this version; SkillNotRunnable when this host's caps refuse
    them (a ``memory_mb`` above ``ATOM_RUN_MEMORY_MAX_MB``, say)."""
    limits = CallLimits(
        timeout=timeout if timeout is not None else version.timeout,
        memory_mb=(version.metadata or {}).get("memory_mb"),
    )
    try:
        limits.resolved(registry().config)
    except ValueError as refused:
        raise SkillNotRunnable(f"{version.skill.slug} {version.version}: {refused}") from None
    return limits


def environment_ready_for(version: SkillVersion) -> Environment | None:
    """The version's environment when it is ready to run now (no install), else None.

    Raises SkillNotRunnable when the policy in force refuses the version's requirements.
    """
    try:
        spec = spec_for(language=version.skill.language, requirements=list(version.requirements))
    except (PolicyError, RequirementError) as refused:
        raise SkillNotRunnable(f"{version.skill.slug} {version.version}: {refused}") from None
    try:
        return environment_ready_lookup(key=spec.key)
    except BackendUnavailable as unavailable:
        raise DockerUnavailable(
            f"container-backed calls are unavailable: {unavailable.message}"
        ) from None


def environment_pool(environment: Environment, *, network: bool = False) -> RunnerPool:
    """The warm pool of one ready environment (not a Docker one: those run per call)."""
    if environment.backend == EnvironmentBackend.DOCKER:
        raise SkillNotRunnable(
            f"environment {environment.key[:12]} is a Docker image: it has no warm pool"
        )
    if environment.language == SkillLanguage.NODE:
        return pool_for(
            environment.key,
            settings.ATOM_NODE_BIN,
            "node",
            network=network,
            module_paths=[environment.node_path] if environment.node_path else [],
        )
    return pool_for(environment.key, environment.python_path, "python", network=network)
