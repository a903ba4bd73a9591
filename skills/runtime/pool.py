"""Warm runner pools, one per (environment, kind, network).

A pool lends an idle runner to one caller at a time, starts one when none is idle and it is
under its maximum, and gives a runner back afterwards unless it must go (it died, was killed
on a timeout, asked to retire after a memory or CPU limit, or served its ``max_calls``). A
runner that goes is replaced in the background while the pool is below its minimum.

Pools are made and capped per host by `skills.runtime.host.PoolRegistry`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skills.operations import HOT_RELOAD, SKILL_LOAD, SKILL_RUN
from skills.runtime.calls import (
    PROTOCOL_ERROR,
    RUNNER_DIED,
    SOURCE_UNREADABLE,
    TIMEOUT,
    CallResult,
    SkillRef,
    failure_result,
    result_from_answer,
)
from skills.runtime.config import KINDS, CallLimits, ResolvedLimits, RuntimeConfig
from skills.runtime.process import (
    ProtocolViolation,
    RunnerDied,
    RunnerError,
    RunnerProcess,
    RunnerTimedOut,
)
from skills.runtime.sandbox import sandbox_mode

if TYPE_CHECKING:
    from skills.runtime.host import PoolRegistry

logger = logging.getLogger(__name__)


# The runner serving each call that was given a `call_id`, so that another thread can kill it
# (`call_interrupt`: a cancelled workflow step).
_serving: dict[str, RunnerProcess] = {}
_serving_lock = threading.Lock()


def call_interrupt(call_id: str) -> bool:
    """Kill the runner serving the call `call_id` in this process, if one is; True if it was.

    The call then returns a `RunnerDied` failure and its runner is replaced, as after a crash.
    """
    with _serving_lock:
        runner = _serving.get(call_id)
    if runner is None:
        return False
    runner.interrupt()
    return True


class PoolBusy(RuntimeError):
    """No runner became free within the acquire timeout."""


class PoolClosed(RuntimeError):
    pass


class SourceUnreadable(Exception):
    """The host cannot read a skill file the sandboxed runner asked it for."""


@dataclass(frozen=True)
class PoolKey:
    environment_key: str
    kind: str
    network: bool


@dataclass(frozen=True)
class PoolStats:
    key: PoolKey
    idle: int
    busy: int
    starting: int
    started: int
    replaced: int
    timed_out: int
    died: int
    retired: int
    recycled: int
    calls: int
    preload_errors: tuple[str, ...]


class RunnerPool:
    def __init__(
        self,
        *,
        key: PoolKey,
        interpreter: Path,
        config: RuntimeConfig,
        registry: PoolRegistry | None = None,
        preload: Sequence[SkillRef] = (),
        module_paths: Sequence[Path] = (),
    ) -> None:
        if key.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        self.key = key
        # A bare name ("node") is looked up on the host's PATH: the runner's is scrubbed.
        self.interpreter = Path(shutil.which(str(interpreter)) or interpreter)
        self.config = config
        self.mode = sandbox_mode(config.sandbox)
        self.preload = tuple(preload)
        self.module_paths = tuple(Path(path) for path in module_paths)
        self.last_used = time.monotonic()
        self._registry = registry
        self._condition = threading.Condition()
        self._idle: list[RunnerProcess] = []
        self._busy: set[RunnerProcess] = set()
        self._starting = 0
        self._warming = 0  # of those starting, the ones that will land in the idle list
        self._waiting_for_warm = 0
        self._closed = False
        self._counters = dict.fromkeys(
            ("started", "replaced", "timed_out", "died", "retired", "recycled", "calls"), 0
        )
        self._preload_errors: list[str] = []

    # Public ------------------------------------------------------------------------------------

    def call(
        self,
        *,
        skill_id: str,
        path: Path | str,
        content_hash: str | None = None,
        entrypoint: str = "run",
        params: Mapping[str, Any] | None = None,
        limits: CallLimits | None = None,
        source: str | Callable[[], str] | None = None,
        sample_context: Mapping[str, Any] | None = None,
        call_id: str | None = None,
    ) -> CallResult:
        """Run ``entrypoint(**params)`` of one skill version in a warm runner of this pool.

        Without ``source`` the runner reads ``path`` and runs what it holds (reporting its hash).
        With ``source`` (the text, or a function returning it) the version named by
        ``content_hash`` runs exactly: the source is sent only when the runner does not have
        that version cached and the file holds another one (or is outside its sandbox).
        ``call_id`` names the call for `call_interrupt` while it runs.
        """
        started = time.perf_counter()
        resolved = (limits or CallLimits()).resolved(self.config)
        request = {
            "op": "call",
            "skill_id": skill_id,
            "path": str(path),
            "content_hash": content_hash,
            "entrypoint": entrypoint,
            "params": dict(params or {}),
            "limits": resolved.for_runner(),
        }
        if source is not None:
            request["exact"] = True
        try:
            json.dumps(request["params"], allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"params must be JSON-encodable: {error}") from None
        runner = self._acquire(deadline=time.monotonic() + self.config.acquire_timeout)
        if call_id is not None:
            with _serving_lock:
                _serving[call_id] = runner
        try:
            with self._timed_call(skill_id, content_hash, sample_context) as measured:
                result = self._call_in(runner, request, resolved, started, source)
                measured.append(result)
        finally:
            if call_id is not None:
                with _serving_lock:
                    _serving.pop(call_id, None)
        return result

    def warm(self, count: int | None = None) -> None:
        """Start runners until ``count`` (default: the pool's minimum) are idle or busy."""
        wanted = self.config.min_runners if count is None else count
        while True:
            with self._condition:
                if self._closed or self._size() >= min(wanted, self.config.max_runners):
                    return
                self._starting += 1
                self._warming += 1
            if not self._reserve_slot():
                with self._condition:
                    self._starting -= 1
                    self._warming -= 1
                return
            if not self._start_into_idle():
                return  # the error is logged; a call will report it

    def stats(self) -> PoolStats:
        with self._condition:
            return PoolStats(
                key=self.key,
                idle=len(self._idle),
                busy=len(self._busy),
                starting=self._starting,
                preload_errors=tuple(self._preload_errors),
                **self._counters,
            )

    def host_pids(self) -> list[int]:
        """Host pids of this pool's runners (bwrap's, in bwrap mode): to watch or to signal."""
        with self._condition:
            return [runner.pid for runner in [*self._idle, *self._busy] if runner.pid]

    def control(self, operation: str, **fields: Any) -> list[dict[str, Any]]:
        """Send a loader operation (``stats``, ``unload``, ``clear``) to every idle runner."""
        answers = []
        for runner in self._borrow_idle():
            try:
                answer, _, _ = runner.request(
                    {"op": operation, **fields}, timeout=self.config.start_timeout
                )
            except RunnerError:
                self._discard(runner, "died")
                continue
            answers.append(answer)
            self._give_back(runner, healthy=True)
        return answers

    def shrink_idle(self, *, idle_for: float = 0.0) -> int:
        """Close idle runners unused for ``idle_for`` seconds; returns how many."""
        now = time.monotonic()
        with self._condition:
            leaving = [r for r in self._idle if now - r.last_used >= idle_for]
            self._idle = [r for r in self._idle if r not in leaving]
        for runner in leaving:
            runner.close()
            self._release_slot()
        return len(leaving)

    def shutdown(self) -> None:
        with self._condition:
            self._closed = True
            leaving, self._idle = self._idle, []
            self._condition.notify_all()
        for runner in leaving:
            runner.close()
            self._release_slot()

    @property
    def is_closed(self) -> bool:
        return self._closed

    def size(self) -> int:
        with self._condition:
            return self._size()

    # Runners -----------------------------------------------------------------------------------

    def _size(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    def _acquire(self, *, deadline: float) -> RunnerProcess:
        while True:
            runner = None
            with self._condition:
                if self._closed:
                    raise PoolClosed(f"the pool for {self.key.environment_key} is shut down")
                self.last_used = time.monotonic()
                if self._idle:
                    runner = self._idle.pop()  # the most recently used: the warmest caches
                    self._busy.add(runner)
                elif self._warming > self._waiting_for_warm:
                    # A replacement is already starting: wait for it rather than start another.
                    self._waiting_for_warm += 1
                    try:
                        self._condition.wait(max(0.0, min(deadline - time.monotonic(), 0.5)))
                    finally:
                        self._waiting_for_warm -= 1
                    if time.monotonic() >= deadline:
                        raise PoolBusy(self._busy_message())
                    continue
                elif self._size() < self.config.max_runners:
                    self._starting += 1
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise PoolBusy(self._busy_message())
                    self._condition.wait(min(remaining, 0.5))
                    continue
            if runner is not None:
                if runner.is_alive:
                    return runner
                # Killed or crashed while idle: replace it without failing anyone's call.
                self._discard(runner, "died", replace=False)
                continue
            if self._reserve_slot():
                return self._start(busy=True)
            with self._condition:
                self._starting -= 1
                if time.monotonic() >= deadline:
                    raise PoolBusy(self._busy_message())
                self._condition.wait(0.05)

    def _busy_message(self) -> str:
        return (
            f"no runner for {self.key.environment_key} became free within "
            f"{self.config.acquire_timeout:g} s ({self.config.max_runners} per pool, "
            f"{self.config.runners_per_host} per host)"
        )

    def _start(self, *, busy: bool) -> RunnerProcess:
        """Start a runner for which ``_starting`` and a host slot are already counted."""
        try:
            runner = RunnerProcess(
                kind=self.key.kind,
                interpreter=self.interpreter,
                mode=self.mode,
                network=self.key.network,
                cache_size=self.config.loader_cache_size,
                memory_mb=self.config.memory_mb,
                read_only=[*self.config.read_only_paths, *self.module_paths],
                extra_env=self._extra_env(),
                start_timeout=self.config.start_timeout,
            )
            self._run_preload(runner)
        except BaseException:
            with self._condition:
                self._starting -= 1
                self._warming -= 0 if busy else 1
                self._condition.notify_all()
            self._release_slot()
            raise
        with self._condition:
            self._starting -= 1
            self._warming -= 0 if busy else 1
            self._counters["started"] += 1
            if busy:
                self._busy.add(runner)
            else:
                self._idle.append(runner)
                self._condition.notify_all()
        return runner

    def _start_into_idle(self) -> bool:
        try:
            runner = self._start(busy=False)
        except Exception:
            logger.exception("runtime: could not start a runner for %s", self.key)
            return False
        if self._closed:
            with self._condition:
                if runner in self._idle:
                    self._idle.remove(runner)
            runner.close()
            self._release_slot()
        return True

    def _extra_env(self) -> dict[str, str]:
        if self.key.kind == "node" and self.module_paths:
            return {"NODE_PATH": os.pathsep.join(str(path) for path in self.module_paths)}
        return {}

    def _run_preload(self, runner: RunnerProcess) -> None:
        for ref in self.preload:
            if ref.kind != self.key.kind:
                continue
            request = {
                "op": "load",
                "skill_id": ref.skill_id,
                "path": str(ref.path),
                "content_hash": ref.content_hash,
            }
            answer, _, _ = runner.request(request, timeout=self.config.start_timeout)
            if answer.get("need_source"):
                try:
                    request["source"] = ref.path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as error:
                    answer = {"ok": False, "error": {"type": "OSError", "message": str(error)}}
                else:
                    answer, _, _ = runner.request(request, timeout=self.config.start_timeout)
            if not answer.get("ok"):
                error = answer.get("error") or {}
                message = f"{ref.skill_id}: {error.get('type')}: {error.get('message')}"
                with self._condition:
                    if message not in self._preload_errors:
                        self._preload_errors.append(message)
                logger.warning("runtime: preload failed for %s", message)

    def _borrow_idle(self) -> list[RunnerProcess]:
        with self._condition:
            borrowed, self._idle = self._idle, []
            self._busy.update(borrowed)
        return borrowed

    def _give_back(self, runner: RunnerProcess, *, healthy: bool) -> None:
        if not healthy or not runner.is_alive:
            self._discard(runner, "died")
            return
        if runner.calls >= self.config.max_calls:
            self._discard(runner, "recycled")
            return
        with self._condition:
            self._busy.discard(runner)
            if not self._closed:
                self._idle.append(runner)
                self._condition.notify_all()
                return
        runner.close()
        self._release_slot()

    def _discard(self, runner: RunnerProcess, reason: str, *, replace: bool = True) -> None:
        """Let a runner go for good and start its replacement if the pool needs one."""
        with self._condition:
            self._busy.discard(runner)
            self._counters[reason] += 1
            needs_replacement = (
                replace and not self._closed and self._size() < self.config.min_runners
            )
            if needs_replacement:
                self._starting += 1
                self._warming += 1
                self._counters["replaced"] += 1
            self._condition.notify_all()
        if reason == "recycled":
            runner.close(grace=0.2)
        else:
            runner.kill()
        self._release_slot()
        if needs_replacement:
            threading.Thread(target=self._replace, name="atom-runner-replace", daemon=True).start()

    def _replace(self) -> None:
        if self._reserve_slot():
            self._start_into_idle()
        else:
            with self._condition:
                self._starting -= 1
                self._warming -= 1
                self._condition.notify_all()

    def _reserve_slot(self) -> bool:
        return True if self._registry is None else self._registry.reserve_slot(self)

    def _release_slot(self) -> None:
        if self._registry is not None:
            self._registry.release_slot()

    # Calls -------------------------------------------------------------------------------------

    def _call_in(
        self,
        runner: RunnerProcess,
        request: dict[str, Any],
        limits: ResolvedLimits,
        started: float,
        source: str | Callable[[], str] | None,
    ) -> CallResult:
        deadline = time.monotonic() + limits.timeout
        try:
            answer, stdout, stderr = runner.request(
                request, timeout=limits.timeout, max_output_bytes=limits.max_output_bytes
            )
            if answer.get("need_source"):
                request["source"] = self._source_text(source, request["path"])
                answer, stdout, stderr = runner.request(
                    request,
                    timeout=max(deadline - time.monotonic(), 0.001),
                    max_output_bytes=limits.max_output_bytes,
                )
        except RunnerTimedOut:
            self._discard(runner, "timed_out")
            return failure_result(
                TIMEOUT,
                f"the call exceeded its wall-clock limit of {limits.timeout:g} s; "
                "its runner was killed and is replaced",
                started=started,
                runner_pid=runner.pid,
                output=runner.output_so_far(),
            )
        except RunnerDied as error:
            self._discard(runner, "died")
            return failure_result(
                RUNNER_DIED,
                f"{error} while running the call (a crash, os._exit or an out-of-memory "
                "kill); it is replaced",
                started=started,
                runner_pid=runner.pid,
                output=runner.output_so_far(),
            )
        except ProtocolViolation as error:
            self._discard(runner, "died")
            return failure_result(
                PROTOCOL_ERROR, str(error), started=started, runner_pid=runner.pid
            )
        except SourceUnreadable as error:
            self._give_back(runner, healthy=True)
            return failure_result(
                SOURCE_UNREADABLE, str(error), started=started, runner_pid=runner.pid
            )
        except BaseException:
            self._discard(runner, "died")
            raise
        runner.calls += 1
        retire = bool(answer.get("retire")) or not runner.is_alive
        with self._condition:
            self._counters["calls"] += 1
        if retire:
            self._discard(runner, "retired")
        else:
            self._give_back(runner, healthy=True)
        return result_from_answer(
            answer,
            stdout=stdout,
            stderr=stderr,
            started=started,
            runner_pid=runner.pid,
            is_replaced=retire,
        )

    @staticmethod
    def _source_text(source: str | Callable[[], str] | None, path: str) -> str:
        if isinstance(source, str):
            return source
        try:
            return source() if source is not None else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SourceUnreadable(f"cannot read the skill file {path}: {error}") from None

    @contextlib.contextmanager
    def _timed_call(
        self, skill_id: str, content_hash: str | None, extra: Mapping[str, Any] | None
    ) -> Iterator[list[CallResult]]:
        """Record skill_run (and skill_load / hot_reload from what the runner reports)."""
        measured: list[CallResult] = []
        if not self.config.record_timings:
            yield measured
            return
        # Here, not at the top: the runtime does not import Django when it is imported.
        from perf.recording import measure_performance, record_sample

        context = {**(extra or {}), "skill": skill_id, "environment_key": self.key.environment_key}
        with measure_performance(SKILL_RUN, version=content_hash or "", **context) as measurement:
            yield measured
            if measured and measured[0].error is not None:
                measurement.fail(measured[0].error.type)
        if measured and measured[0].cache in ("loaded", "reloaded"):
            operation = SKILL_LOAD if measured[0].cache == "loaded" else HOT_RELOAD
            version = measured[0].content_hash or ""
            record_sample(operation, measured[0].load_seconds, version=version, **context)
