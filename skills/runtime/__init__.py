"""Run skills in warm, isolated runner processes (docs/runtime.md).

The public API::

    from skills.runtime import CallLimits, call, pool_for

    pool = pool_for("env-key", "/envs/env-key/bin/python", "python")
    result = pool.call(skill_id="slugify-text", path=path, content_hash=sha256,
                       params={"text": "Hello"}, limits=CallLimits(timeout=5))
    result.raise_for_error().result

Nothing here imports Django at import time; settings are read when the first pool is made.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skills.runtime.calls import (
    CallError,
    CallResult,
    CapturedOutput,
    SkillCallError,
    SkillRef,
)
from skills.runtime.cgroups import cgroup_support_for
from skills.runtime.config import CallLimits, RuntimeConfig
from skills.runtime.host import PoolRegistry
from skills.runtime.pool import (
    PoolBusy,
    PoolClosed,
    PoolKey,
    PoolStats,
    RunnerPool,
    call_interrupt,
)
from skills.runtime.process import SPAWNER, output_listener
from skills.runtime.sandbox import (
    SANDBOX_UID,
    SandboxUnavailable,
    bwrap_executable,
    sandbox_host_identity,
    sandbox_mode,
)
from skills.runtime.seccomp import seccomp_status

__all__ = [
    "CallError",
    "CallLimits",
    "CallResult",
    "CapturedOutput",
    "PoolBusy",
    "PoolClosed",
    "PoolKey",
    "PoolRegistry",
    "PoolStats",
    "RunnerPool",
    "RuntimeConfig",
    "SandboxUnavailable",
    "SkillCallError",
    "SkillRef",
    "bwrap_executable",
    "call",
    "call_interrupt",
    "output_listener",
    "isolation_status",
    "pool_for",
    "registry",
    "sandbox_mode",
    "shutdown",
]

_registry: PoolRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> PoolRegistry:
    """This process's pools, configured from Django settings on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = PoolRegistry(RuntimeConfig.from_settings())
            atexit.register(_registry.shutdown)
        return _registry


def pool_for(
    environment_key: str,
    interpreter: Path | str,
    kind: str = "python",
    *,
    network: bool = False,
    preload: Sequence[SkillRef] | None = None,
    module_paths: Sequence[Path] = (),
    preimport: Sequence[str] = (),
) -> RunnerPool:
    """The warm pool of one environment (``interpreter`` is its python, or node for Node).

    ``preload`` defaults to ``ATOM_PRELOAD_SKILLS``; ``module_paths`` are a Node
    environment's ``node_modules`` directories; ``preimport`` the distributions its runners
    import before their first call (a Python environment's requirements).
    """
    return registry().pool_for(
        environment_key,
        interpreter,
        kind,
        network=network,
        preload=preload,
        module_paths=module_paths,
        preimport=preimport,
    )


def call(
    *,
    environment_key: str,
    interpreter: Path | str,
    skill: SkillRef,
    params: Mapping[str, Any] | None = None,
    limits: CallLimits | None = None,
    network: bool = False,
    module_paths: Sequence[Path] = (),
) -> CallResult:
    """Run one skill version in its environment's warm pool."""
    pool = pool_for(
        environment_key, interpreter, skill.kind, network=network, module_paths=module_paths
    )
    return pool.call(
        skill_id=skill.skill_id,
        path=skill.path,
        content_hash=skill.content_hash,
        entrypoint=skill.entrypoint,
        params=params,
        limits=limits,
    )


def isolation_status(config: RuntimeConfig | None = None) -> tuple[bool, str]:
    """How this host isolates runners, in one line, and whether it is what the settings ask.

    Without cgroups it still works, on rlimits and a lower runner cap, and says so: the
    limits then count each process alone, not a runner with its children.
    """
    config = config or registry().config
    try:
        mode = sandbox_mode(config.sandbox)
    except SandboxUnavailable as error:
        return False, str(error)
    support = cgroup_support_for(config.cgroups)
    if mode == "bwrap":
        outside = sandbox_host_identity(
            interpreter=Path(sys.executable), uid=config.sandbox_host_uid
        ).reason
        sandbox = (
            f"bwrap (user, PID, mount, network namespaces; uid {SANDBOX_UID}, {outside}; "
            f"{seccomp_status()})"
        )
    else:
        sandbox = "none (runners see the host's files and network)"
    if support.is_available:
        counted = "memory, CPU time" if support.counts_cpu else "memory"
        limits = (
            f"{counted} and {config.max_processes} processes per runner through "
            f"{support.describe()}"
        )
        return True, f"sandbox {sandbox}; limits: {limits}"
    cap = min(config.runners_per_host, config.runners_per_host_without_cgroups)
    limits = (
        f"rlimits only, per process, not per runner with its children: cgroups are "
        f"{support.describe()}; at most {cap} runners on this host"
    )
    return config.cgroups != "required", f"sandbox {sandbox}; limits: {limits}"


def _forget_after_fork() -> None:
    """A forked child (a django-q2 worker) starts its own pools; the parent's are not its own."""
    global _registry, _registry_lock
    _registry = None
    _registry_lock = threading.Lock()
    SPAWNER.after_fork()


os.register_at_fork(after_in_child=_forget_after_fork)


def shutdown() -> None:
    """Stop every runner of this process (tests, and process exit)."""
    global _registry
    with _registry_lock:
        if _registry is not None:
            _registry.shutdown()
        _registry = None
