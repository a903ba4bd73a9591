"""What goes into a call and what comes back."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Error types the host itself reports (a skill's own exceptions keep their class names).
TIMEOUT = "TimeoutError"
RUNNER_DIED = "RunnerDied"
PROTOCOL_ERROR = "ProtocolError"
SOURCE_UNREADABLE = "SourceUnreadable"
MEMORY_LIMIT = "MemoryLimitExceeded"  # the runner's group, every process of the call together
PROCESS_LIMIT = "ProcessLimitExceeded"
CPU_LIMIT = "CpuTimeLimitExceeded"  # as the runner names its own RLIMIT_CPU


class SkillCallError(Exception):
    """Raised by `CallResult.raise_for_error` when the call did not succeed."""

    def __init__(self, error: CallError) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.error = error


@dataclass(frozen=True)
class SkillRef:
    """A skill file the runtime can load: identity, file, and the version expected to run."""

    skill_id: str
    path: Path
    content_hash: str | None = None
    entrypoint: str = "run"

    @property
    def kind(self) -> str:
        return "node" if self.path.suffix in (".js", ".mjs", ".cjs") else "python"


@dataclass(frozen=True)
class CallError:
    type: str
    message: str
    traceback: str = ""
    stage: str = "run"  # "load" when the module failed to import, "runner" for the host's own


@dataclass(frozen=True)
class CapturedOutput:
    text: str
    total_bytes: int
    is_truncated: bool


@dataclass(frozen=True)
class CallResult:
    """The answer to one call. ``result`` is the decoded JSON when ``ok``."""

    ok: bool
    result: Any
    error: CallError | None
    stdout: CapturedOutput
    stderr: CapturedOutput
    cache: str | None  # "hit", "loaded", "reloaded", or None when the skill never loaded
    content_hash: str | None  # the version that really ran
    load_seconds: float  # inside the runner, 0 on a cache hit
    duration_seconds: float  # inside the runner, the entrypoint alone
    wall_seconds: float  # on the host, end to end, waiting for a runner included
    # The call's peak memory: its runner's group (every process) where cgroups are used, else
    # the runner process's own peak resident set over its life.
    peak_rss_kb: int | None
    runner_pid: int | None
    is_runner_replaced: bool  # the runner was killed or died and will be replaced
    # CPU time of the call, every process it started together (its runner's group); None
    # where no group counts it (no cgroups, Docker).
    cpu_seconds: float | None = None

    def raise_for_error(self) -> CallResult:
        if self.error is not None:
            raise SkillCallError(self.error)
        return self


NO_OUTPUT = CapturedOutput(text="", total_bytes=0, is_truncated=False)


def result_from_answer(
    answer: Mapping[str, Any],
    *,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    started: float,
    runner_pid: int | None,
    is_replaced: bool,
) -> CallResult:
    """The CallResult for a runner's answer frame (see runner.py for its fields)."""
    error = answer.get("error")
    return CallResult(
        ok=bool(answer.get("ok")) and error is None,
        result=answer.get("result"),
        error=None
        if error is None
        else CallError(
            type=str(error.get("type") or "Error"),
            message=str(error.get("message") or ""),
            traceback=str(error.get("traceback") or ""),
            stage=str(error.get("stage") or "run"),
        ),
        stdout=stdout,
        stderr=stderr,
        cache=answer.get("cache"),
        content_hash=answer.get("content_hash"),
        load_seconds=float(answer.get("load_seconds") or 0.0),
        duration_seconds=float(answer.get("duration_seconds") or 0.0),
        wall_seconds=time.perf_counter() - started,
        peak_rss_kb=answer.get("peak_rss_kb"),
        runner_pid=runner_pid,
        is_runner_replaced=is_replaced,
    )


def failure_result(
    error_type: str,
    message: str,
    *,
    started: float,
    runner_pid: int | None,
    output: tuple[CapturedOutput, CapturedOutput] = (NO_OUTPUT, NO_OUTPUT),
    peak_rss_kb: int | None = None,
    cpu_seconds: float | None = None,
) -> CallResult:
    """A call the host itself failed: the runner timed out, died or broke the protocol."""
    return CallResult(
        ok=False,
        result=None,
        error=CallError(type=error_type, message=message, stage="runner"),
        stdout=output[0],
        stderr=output[1],
        cache=None,
        content_hash=None,
        load_seconds=0.0,
        duration_seconds=0.0,
        wall_seconds=time.perf_counter() - started,
        peak_rss_kb=peak_rss_kb,
        runner_pid=runner_pid,
        is_runner_replaced=error_type
        in (TIMEOUT, RUNNER_DIED, PROTOCOL_ERROR, MEMORY_LIMIT, PROCESS_LIMIT, CPU_LIMIT),
        cpu_seconds=cpu_seconds,
    )
