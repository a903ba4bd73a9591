"""The runtime's knobs, read once from Django settings (see the "Runtime" section there)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

SANDBOX_MODES = ("auto", "bwrap", "none")
CGROUP_MODES = ("auto", "required", "off")
KINDS = ("python", "node")


@dataclass(frozen=True)
class RuntimeConfig:
    # Standby runners per environment: started, packages importable, bound to no skill yet.
    min_runners: int = 1
    # Runners per skill version (a version's concurrency).
    max_runners: int = 4
    idle_seconds: float = 300.0
    max_calls: int = 1000
    # Warm runners on the host, and their memory together: past either, the least recently
    # used idle runner is shut.
    runners_per_host: int = 64
    runners_memory_mb: int = 4096
    # Without cgroups (rlimits only, which do not add up children) the host runs fewer.
    runners_per_host_without_cgroups: int = 8
    cgroups: str = "auto"
    max_processes: int = 128
    loader_cache_size: int = 256
    default_timeout: float = 30.0
    timeout_cap: float = 600.0
    memory_mb: int = 512
    memory_max_mb: int = 8192
    max_output_bytes: int = 1_048_576
    max_result_bytes: int = 16 * 1_048_576
    sandbox: str = "auto"
    sandbox_host_uid: int = 65534  # where Atom runs as root, the uid bwrap drops to
    preload: tuple[str, ...] = ()
    node_binary: str = "node"
    read_only_paths: tuple[Path, ...] = ()
    start_timeout: float = 15.0
    acquire_timeout: float = 60.0
    record_timings: bool = True

    def __post_init__(self) -> None:
        if self.sandbox not in SANDBOX_MODES:
            raise ValueError(f"sandbox must be one of {', '.join(SANDBOX_MODES)}")
        if self.cgroups not in CGROUP_MODES:
            raise ValueError(f"cgroups must be one of {', '.join(CGROUP_MODES)}")
        if not 0 <= self.min_runners <= self.max_runners:
            raise ValueError("min_runners must be between 0 and max_runners")
        if self.sandbox_host_uid < 1:
            raise ValueError("sandbox_host_uid must not be root's")
        if self.max_processes < 8:
            raise ValueError("max_processes must be at least 8")

    @classmethod
    def from_settings(cls) -> RuntimeConfig:
        from django.conf import settings

        def read(name: str, default: Any) -> Any:
            return getattr(settings, name, default)

        defaults = cls()
        return cls(
            min_runners=read("ATOM_RUNNER_MIN", defaults.min_runners),
            max_runners=read("ATOM_RUNNER_MAX", defaults.max_runners),
            idle_seconds=read("ATOM_RUNNER_IDLE_SECONDS", defaults.idle_seconds),
            max_calls=read("ATOM_RUNNER_MAX_CALLS", defaults.max_calls),
            runners_per_host=read("ATOM_RUNNERS_PER_HOST", defaults.runners_per_host),
            runners_memory_mb=read("ATOM_RUNNERS_MEMORY_MB", defaults.runners_memory_mb),
            runners_per_host_without_cgroups=read(
                "ATOM_RUNNERS_PER_HOST_WITHOUT_CGROUPS", defaults.runners_per_host_without_cgroups
            ),
            cgroups=read("ATOM_RUNNER_CGROUPS", defaults.cgroups),
            max_processes=read("ATOM_RUN_MAX_PROCESSES", defaults.max_processes),
            acquire_timeout=read("ATOM_RUNNER_ACQUIRE_SECONDS", defaults.acquire_timeout),
            loader_cache_size=read("ATOM_LOADER_CACHE_SIZE", defaults.loader_cache_size),
            default_timeout=read("ATOM_RUN_TIMEOUT_DEFAULT", defaults.default_timeout),
            timeout_cap=read("ATOM_RUN_TIMEOUT_CAP", defaults.timeout_cap),
            memory_mb=read("ATOM_RUN_MEMORY_MB", defaults.memory_mb),
            memory_max_mb=read("ATOM_RUN_MEMORY_MAX_MB", defaults.memory_max_mb),
            max_output_bytes=read("ATOM_RUN_MAX_OUTPUT_BYTES", defaults.max_output_bytes),
            sandbox=read("ATOM_SANDBOX", defaults.sandbox),
            sandbox_host_uid=read("ATOM_SANDBOX_HOST_UID", defaults.sandbox_host_uid),
            preload=tuple(read("ATOM_PRELOAD_SKILLS", ())),
            node_binary=read("ATOM_NODE_BIN", defaults.node_binary),
            read_only_paths=tuple(
                Path(path) for path in [read("ATOM_SKILLS_DIR", None)] if path is not None
            ),
        )

    def with_changes(self, **changes: Any) -> RuntimeConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class CallLimits:
    """What one call may use. ``None`` means "the configured default"."""

    timeout: float | None = None
    memory_mb: int | None = None
    cpu_seconds: float | None = None
    max_output_bytes: int | None = None
    max_result_bytes: int | None = None

    def resolved(self, config: RuntimeConfig) -> ResolvedLimits:
        """Fill defaults and apply the caps; a timeout above the cap is lowered to it."""
        timeout = self.timeout if self.timeout is not None else config.default_timeout
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        timeout = min(timeout, config.timeout_cap)
        memory_mb = self.memory_mb if self.memory_mb is not None else config.memory_mb
        if not 16 <= memory_mb <= config.memory_max_mb:
            raise ValueError(f"memory_mb must be between 16 and {config.memory_max_mb}")
        cpu_seconds = self.cpu_seconds if self.cpu_seconds is not None else math.ceil(timeout)
        return ResolvedLimits(
            timeout=timeout,
            memory_mb=memory_mb,
            cpu_seconds=max(1, math.ceil(cpu_seconds)),
            max_output_bytes=self.max_output_bytes or config.max_output_bytes,
            max_result_bytes=self.max_result_bytes or config.max_result_bytes,
        )


@dataclass(frozen=True)
class ResolvedLimits:
    timeout: float
    memory_mb: int
    cpu_seconds: int
    max_output_bytes: int
    max_result_bytes: int

    def for_runner(self) -> dict[str, int]:
        """The part the runner enforces itself (the host enforces time and output)."""
        return {
            "memory_mb": self.memory_mb,
            "cpu_seconds": self.cpu_seconds,
            "max_result_bytes": self.max_result_bytes,
        }
