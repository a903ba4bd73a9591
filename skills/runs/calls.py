"""Carrying out a prepared run: a warm runner of its environment's pool, or a Docker container.

The API, the admin's "try it" form, workflow steps and notebooks all end here, through
`run_plan_call` (or `run_skill`, which prepares the plan first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection
from packaging.requirements import InvalidRequirement, Requirement

from atom_site.statements import Statement, statements_run
from perf.recording import measure_performance
from skills.installer.keys import InterpreterError
from skills.models import Agent, Environment, EnvironmentBackend, Skill, SkillLanguage, SkillVersion
from skills.operations import SKILL_RUN
from skills.runs.errors import RunUnavailable, SkillNotRunnable
from skills.runs.plan import RunPlan, run_plan_prepare
from skills.runtime import CallResult, PoolBusy, RunnerPool, SandboxUnavailable, pool_for
from skills.runtime.docker import DockerUnavailable, docker_call

# What the host (not the skill) could not do now: the caller answers 503.
HOST_ERRORS = (PoolBusy, DockerUnavailable, SandboxUnavailable, InterpreterError)


def run_skill(
    skill: Skill,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    agent: Agent | None = None,
    version: SkillVersion | None = None,
) -> CallResult:
    """Run one version of a skill (its current one by default) and return what it answered.

    Prepares the plan (see `run_plan_prepare` for what it refuses), installs the environment
    on a miss, and calls it (see `run_plan_call`).
    """
    plan = run_plan_prepare(skill=skill, params=params, version=version, timeout=timeout)
    return run_plan_call(plan, agent=agent)


def run_plan_call(
    plan: RunPlan,
    *,
    agent: Agent | None = None,
    call_id: str | None = None,
    is_counted: bool = True,
) -> CallResult:
    """Carry out a prepared run and return what the skill answered.

    Takes the plan's environment (building it on a miss), a warm runner of that
    environment's pool, and runs exactly the planned version: a runner that holds another
    version reloads first, and the source kept in the database is sent when the file on disk
    has moved on. The call's samples (skill_run, and skill_load / hot_reload when it loaded)
    are recorded. A Docker environment runs the call in a fresh container of its image.
    Raises `RunUnavailable` when the host cannot carry it out now, `InstallError` when its
    environment cannot be built. `call_id` names a pooled call for
    `skills.runtime.call_interrupt` (a workflow step being cancelled). With `is_counted`
    False the caller adds the call to the skill's `run_count` itself, in a transaction it
    commits anyway (a workflow step's: one commit fewer a step on PostgreSQL).
    """
    skill, version = plan.skill, plan.version
    environment = plan.with_environment().environment
    call = {
        "skill_id": skill.slug,
        "path": skill.source_path or version.filename,
        "content_hash": version.content_hash,
        "entrypoint": version.entrypoint,
        "params": plan.params,
        "limits": plan.limits,
    }
    context = {"agent": agent.slug} if agent is not None else {}
    try:
        if environment.backend == EnvironmentBackend.DOCKER:
            with measure_performance(
                SKILL_RUN,
                skill=skill.slug,
                version=version.content_hash,
                environment_key=environment.key,
                backend="docker",
                **context,
            ):
                result = docker_call(
                    image=environment.location, source=version.source, network=plan.network, **call
                )
        else:
            result = environment_pool(environment, network=plan.network).call(
                **call,
                source=lambda: version.source,
                sample_context=context or None,
                call_id=call_id,
            )
    except HOST_ERRORS as error:
        raise RunUnavailable.from_host_error(error) from error
    if is_counted:  # a counter: its commit need not wait for the disk (atom_site/transactions)
        skill_run_count_add(skill_id=skill.pk, is_flush_awaited=False)
    return result


def skill_run_count_statement(*, skill_id: int) -> Statement:
    """One call more in the skill's `run_count`."""
    quote = connection.ops.quote_name
    table, column = quote(Skill._meta.db_table), quote("run_count")
    return Statement(
        f"UPDATE {table} SET {column} = {column} + 1 WHERE {quote(Skill._meta.pk.column)} = %s",
        [skill_id],
    )


def skill_run_count_add(*, skill_id: int, is_flush_awaited: bool = True) -> None:
    """One call more in the skill's `run_count`, in the caller's transaction if any."""
    statements_run(
        [skill_run_count_statement(skill_id=skill_id)], is_flush_awaited=is_flush_awaited
    )


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
    return pool_for(
        environment.key,
        environment.python_path,
        "python",
        network=network,
        preimport=requirement_names(environment.requirements),
    )


def requirement_names(requirements: list[str]) -> list[str]:
    """The distribution names of an environment's requirements (what its runners import)."""
    names = []
    for line in requirements:
        try:
            names.append(Requirement(line).name)
        except InvalidRequirement:
            continue
    return names
