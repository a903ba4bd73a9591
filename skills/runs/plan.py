"""A run prepared once: everything about a call that is decided before it is made.

`run_plan_prepare` checks the params against the version's inputs schema, resolves the call's
limits against this host's caps, fixes the environment spec the policy allows and, when asked,
takes the ready environment. The API, the admin, notebooks and the queued path all build one
`RunPlan` and hand it down; nothing below looks the same rows up again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import jsonschema
from django.db.models import Model

from atom_site.statements import instance_insert
from skills.installer.backends import BackendUnavailable
from skills.installer.builder import environment_obtain, environment_ready_use, spec_for
from skills.installer.keys import EnvironmentSpec, InterpreterError
from skills.models import Environment, Skill, SkillVersion
from skills.policy import PolicyError, policy_network_allowed
from skills.requirements import RequirementError
from skills.runs.errors import InvalidParams, RunUnavailable, SkillNotRunnable
from skills.runtime import CallLimits, registry


@dataclass(frozen=True)
class RunPlan:
    """One call of one skill version, checked and resolved."""

    skill: Skill
    version: SkillVersion
    params: dict[str, Any]
    limits: CallLimits
    # The timeout as the runtime will enforce it (the version's own or the caller's, capped).
    timeout: float
    spec: EnvironmentSpec
    network: bool
    # The ready environment to run in, or None while it has not been taken (or must be built).
    environment: Environment | None = None

    @property
    def is_ready(self) -> bool:
        return self.environment is not None

    def with_ready_environment(self, *, recording: Model | None = None) -> RunPlan:
        """The plan with its environment when it is ready now (no install); else unchanged.

        `recording`, an unsaved row (the run's), is saved in the same round trip as the
        environment's use when it is ready, and left unsaved otherwise."""
        if self.environment is not None:
            if recording is not None:
                instance_insert(recording, is_flush_awaited=False)
            return self
        try:
            ready = environment_ready_use(spec=self.spec, recording=recording)
        except BackendUnavailable as unavailable:
            raise RunUnavailable(
                f"container-backed calls are unavailable: {unavailable.message}",
                cause="DockerUnavailable",
            ) from None
        return replace(self, environment=ready) if ready is not None else self

    def with_environment(self) -> RunPlan:
        """The plan with its environment, installing it first on a miss (blocks until ready).

        Raises `InstallError` when the build fails."""
        if self.environment is not None:
            return self
        return replace(self, environment=environment_obtain(spec=self.spec))


def run_plan_prepare(
    *,
    skill: Skill,
    params: Mapping[str, Any] | None = None,
    version: SkillVersion | None = None,
    timeout: float | None = None,
) -> RunPlan:
    """Check and resolve a call of `version` (the skill's current one by default).

    Raises `InvalidParams`, `SkillNotRunnable` (no version, limits over this host's caps,
    requirements the policy refuses) or `RunUnavailable` (the interpreter for the skill's
    language does not run). Touches no environment: see `RunPlan.with_ready_environment`.
    """
    version = version or skill.current_version
    if version is None:
        raise SkillNotRunnable(f"{skill.slug} has no version to run")
    params = params if params is not None else {}
    params_validate(schema=version.inputs_schema, params=params)
    metadata = version.metadata or {}
    limits = CallLimits(
        timeout=timeout if timeout is not None else version.timeout,
        memory_mb=metadata.get("memory_mb"),
    )
    try:
        resolved = limits.resolved(registry().config)
    except ValueError as refused:
        raise SkillNotRunnable(f"{skill.slug} {version.version}: {refused}") from None
    try:
        spec = spec_for(language=skill.language, requirements=list(version.requirements))
    except (PolicyError, RequirementError) as refused:
        raise SkillNotRunnable(f"{skill.slug} {version.version}: {refused}") from None
    except InterpreterError as error:
        raise RunUnavailable.from_host_error(error) from None
    return RunPlan(
        skill=skill,
        version=version,
        params=dict(params),
        limits=limits,
        timeout=resolved.timeout,
        spec=spec,
        network=policy_network_allowed(requested=bool(metadata.get("network"))),
    )


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


def params_example(version: SkillVersion | None) -> dict[str, Any]:
    """Params to start from (the admin's "try it" form is prefilled with them): the skill's
    first example input, else its inputs schema's first example, else each property's
    example or default."""
    if version is None:
        return {}
    examples = (version.metadata or {}).get("examples") or []
    if examples and isinstance(examples[0].get("input"), dict):
        return dict(examples[0]["input"])
    schema = version.inputs_schema or {}
    schema_examples = schema.get("examples")
    if (
        isinstance(schema_examples, list)
        and schema_examples
        and isinstance(schema_examples[0], dict)
    ):
        return dict(schema_examples[0])
    params = {}
    for name, field in (schema.get("properties") or {}).items():
        if not isinstance(field, Mapping):
            continue
        if isinstance(field.get("examples"), list) and field["examples"]:
            params[name] = field["examples"][0]
        elif "default" in field:
            params[name] = field["default"]
    return params
