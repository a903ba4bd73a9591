"""What goes into a call and what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Error types the host itself reports (a skill's own exceptions keep their class names).
TIMEOUT = "TimeoutError"
RUNNER_DIED = "RunnerDied"
PROTOCOL_ERROR = "ProtocolError"
SOURCE_UNREADABLE = "SourceUnreadable"


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
    peak_rss_kb: int | None  # the runner's peak resident set (ru_maxrss), whole life
    runner_pid: int | None
    is_runner_replaced: bool  # the runner was killed or died and will be replaced

    def raise_for_error(self) -> CallResult:
        if self.error is not None:
            raise SkillCallError(self.error)
        return self
