"""Warm runner pools, one per (environment, kind, network).

A pool lends an idle runner to one caller at a time, starts one when none is idle and it is
under its maximum, and gives a runner back afterwards unless it must go (it died, was killed
on a timeout, asked to retire after a memory or CPU limit, or served its ``max_calls``). A
runner that goes is replaced in the background while the pool is below its minimum.

Pools are made and capped per host by `skills.runtime.host.PoolRegistry`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skills.operations import HOT_RELOAD, SKILL_LOAD, SKILL_RUN
from skills.runtime.calls import (
    CPU_LIMIT,
    MEMORY_LIMIT,
    PROCESS_LIMIT,
    PROTOCOL_ERROR,
    RUNNER_DIED,
    SOURCE_UNREADABLE,
    TIMEOUT,
    CallResult,
    SkillRef,
    failure_result,
    result_from_answer,
)
from skills.runtime.cgroups import cgroup_support_for, runner_cgroup_make
from skills.runtime.config import KINDS, CallLimits, ResolvedLimits, RuntimeConfig
from skills.runtime.process import (
    GroupReport,
    ProtocolViolation,
    RunnerCpuExceeded,
    RunnerDied,
    RunnerError,
    RunnerProcess,
    RunnerTimedOut,
)
from skills.runtime.sandbox import SandboxUnavailable, sandbox_mode

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


def runners_close_in_background(runners: Sequence[RunnerProcess]) -> None:
    """Close runners no call waits for off the calling thread: a runner given a moment to
    leave, then killed with its group, takes tens of milliseconds the call should not pay."""
    if not runners:
        return

    def close() -> None:
        for runner in runners:
            runner.close(grace=0.2)

    threading.Thread(target=close, name="atom-runner-close", daemon=True).start()


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


# A skill version: (skill id, content hash). A runner serves one, for its whole life.
Version = tuple[str, str]


@dataclass(frozen=True)
class PoolStats:
    key: PoolKey
    idle: int  # bound to a version, waiting for its next call
    standby: int  # bound to none yet
    busy: int
    starting: int
    versions: int
    started: int
    replaced: int
    timed_out: int
    died: int
    retired: int
    recycled: int
    evicted: int
    calls: int
    preload_errors: tuple[str, ...]


class RunnerPool:
    """The runners of one environment (and kind, and network policy).

    Each runner serves one skill version, never two (as AWS Lambda reuses an execution
    environment only for the same function version): a version's first call takes a standby
    runner (started ahead, its interpreter up, bound to nothing) and binds it; later calls of
    that version reuse its idle runners, up to ``max_runners`` at once. ``min_runners`` standby
    runners are kept started, with the environment's packages (``preimport``) already imported.
    """

    def __init__(
        self,
        *,
        key: PoolKey,
        interpreter: Path,
        config: RuntimeConfig,
        registry: PoolRegistry | None = None,
        preload: Sequence[SkillRef] = (),
        module_paths: Sequence[Path] = (),
        preimport: Sequence[str] = (),
    ) -> None:
        if key.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        self.key = key
        # A bare name ("node") is looked up on the host's PATH: the runner's is scrubbed.
        self.interpreter = Path(shutil.which(str(interpreter)) or interpreter)
        self.config = config
        self.mode = sandbox_mode(config.sandbox)
        self.cgroups = (
            registry.cgroups if registry is not None else cgroup_support_for(config.cgroups)
        )
        if config.cgroups == "required" and not self.cgroups.is_available:
            raise SandboxUnavailable(
                f"ATOM_RUNNER_CGROUPS=required but cgroups are {self.cgroups.describe()}"
            )
        self.preload = tuple(preload)
        self.module_paths = tuple(Path(path) for path in module_paths)
        # Distributions every runner imports before its first call (the environment's own).
        self.preimport = tuple(preimport)
        self.last_used = time.monotonic()
        self._registry = registry
        self._condition = threading.Condition()
        self._standby: list[RunnerProcess] = []
        self._idle: dict[Version, list[RunnerProcess]] = {}
        self._busy: set[RunnerProcess] = set()
        self._per_version: Counter[Version] = Counter()
        self._current: dict[str, str] = {}  # the hash each skill last ran with
        self._starting = 0
        self._warming = 0  # of those starting, the standby ones
        self._waiting_for_warm = 0
        self._closed = False
        self._counters = dict.fromkeys(
            (
                "started",
                "replaced",
                "timed_out",
                "died",
                "retired",
                "recycled",
                "evicted",
                "calls",
            ),
            0,
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
        """Run ``entrypoint(**params)`` of one skill version in a runner serving that version.

        Without ``source`` the version is what ``path`` holds now (read by the host, so a call
        naming a hash the file has moved on from runs the file's code and reports its hash).
        With ``source`` (the text, or a function returning it) the version named by
        ``content_hash`` runs exactly: the source is sent only when the runner cannot read that
        version from the file itself. ``call_id`` names the call for `call_interrupt`.
        """
        started = time.perf_counter()
        resolved = (limits or CallLimits()).resolved(self.config)
        try:
            json.dumps(dict(params or {}), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"params must be JSON-encodable: {error}") from None
        try:
            version_hash, source = self._version_of(path, content_hash, source)
        except SourceUnreadable as error:
            return failure_result(SOURCE_UNREADABLE, str(error), started=started, runner_pid=None)
        request = {
            "op": "call",
            "skill_id": skill_id,
            "path": str(path),
            "content_hash": version_hash,
            "entrypoint": entrypoint,
            "params": dict(params or {}),
            "limits": resolved.for_runner(),
            "exact": True,
        }
        version = (skill_id, version_hash)
        runner = self._acquire(version, deadline=time.monotonic() + self.config.acquire_timeout)
        took_standby = runner.calls == 0 and runner.version == version
        if call_id is not None:
            with _serving_lock:
                _serving[call_id] = runner
        try:
            with self._timed_call(skill_id, version_hash, sample_context) as measured:
                result = self._call_in(runner, request, resolved, started, source)
                result = self._note_version(version, result)
                measured.append(result)
        finally:
            if call_id is not None:
                with _serving_lock:
                    _serving.pop(call_id, None)
            if took_standby:
                # After the call, not before: starting a runner beside it would slow it down.
                self._refill_standby()
        return result

    def warm(self, count: int | None = None) -> None:
        """Start standby runners until ``count`` (default: the pool's minimum) are there, and
        a runner for each preloaded skill that has none."""
        wanted = self.config.min_runners if count is None else count
        while True:
            with self._condition:
                if self._closed or len(self._standby) + self._warming >= wanted:
                    break
                self._starting += 1
                self._warming += 1
            if not self._reserve_slot():
                with self._condition:
                    self._starting -= 1
                    self._warming -= 1
                break
            if not self._start_logged(None):
                break  # the error is logged; a call will report it
        for ref in self.preload:
            if ref.kind == self.key.kind:
                self._preload_one(ref)

    def stats(self) -> PoolStats:
        with self._condition:
            return PoolStats(
                key=self.key,
                idle=sum(len(runners) for runners in self._idle.values()),
                standby=len(self._standby),
                busy=len(self._busy),
                starting=self._starting,
                versions=len(self._per_version),
                preload_errors=tuple(self._preload_errors),
                **self._counters,
            )

    def host_pids(self) -> list[int]:
        """Host pids of this pool's runners (bwrap's, in bwrap mode): to watch or to signal."""
        return [runner.pid for runner in self.runners() if runner.pid]

    def runners(self) -> list[RunnerProcess]:
        with self._condition:
            return [*self._standby, *self._idle_runners(), *self._busy]

    def idle_runners(self) -> list[RunnerProcess]:
        """Runners that could be shut now (standby and idle ones), for the host's eviction."""
        with self._condition:
            return [*self._standby, *self._idle_runners()]

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

    def evict(self, runner: RunnerProcess) -> bool:
        """Shut one runner if it is still idle or standby (the host is over a cap)."""
        with self._condition:
            if not self._take_idle(runner):
                return False
            self._counters["evicted"] += 1
            if runner.version is not None:
                self._forget_version_runner(runner.version)
        self._release_slot()
        runners_close_in_background([runner])
        return True

    def shrink_idle(self, *, idle_for: float = 0.0) -> int:
        """Close idle and standby runners unused for ``idle_for`` seconds; returns how many."""
        now = time.monotonic()
        with self._condition:
            leaving = [r for r in self._idle_runners_and_standby() if now - r.last_used >= idle_for]
            for runner in leaving:
                self._take_idle(runner)
                if runner.version is not None:
                    self._forget_version_runner(runner.version)
        for runner in leaving:
            runner.close()
            self._release_slot()
        return len(leaving)

    def shutdown(self) -> None:
        with self._condition:
            self._closed = True
            leaving = self._idle_runners_and_standby()
            self._standby, self._idle = [], {}
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
        return len(self._standby) + len(self._idle_runners()) + len(self._busy) + self._starting

    def _idle_runners(self) -> list[RunnerProcess]:
        return [runner for runners in self._idle.values() for runner in runners]

    def _idle_runners_and_standby(self) -> list[RunnerProcess]:
        return [*self._standby, *self._idle_runners()]

    def _take_idle(self, runner: RunnerProcess) -> bool:
        """Remove a runner from the standby or idle lists (under the condition)."""
        if runner in self._standby:
            self._standby.remove(runner)
            return True
        runners = self._idle.get(runner.version) if runner.version is not None else None
        if runners and runner in runners:
            runners.remove(runner)
            if not runners:
                del self._idle[runner.version]
            return True
        return False

    def _forget_version_runner(self, version: Version) -> None:
        self._per_version[version] -= 1
        if self._per_version[version] <= 0:
            del self._per_version[version]

    def _acquire(self, version: Version, *, deadline: float) -> RunnerProcess:
        while True:
            runner = None
            with self._condition:
                if self._closed:
                    raise PoolClosed(f"the pool for {self.key.environment_key} is shut down")
                self.last_used = time.monotonic()
                idle = self._idle.get(version)
                if idle:
                    runner = idle.pop()  # the most recently used
                    if not idle:
                        del self._idle[version]
                    self._busy.add(runner)
                elif self._standby and self._per_version[version] < self.config.max_runners:
                    runner = self._standby.pop()
                    runner.version = version
                    self._per_version[version] += 1
                    self._busy.add(runner)
                elif (
                    self._warming > self._waiting_for_warm
                    and self._per_version[version] < self.config.max_runners
                ):
                    # A standby runner is starting: wait for it rather than start another
                    # beside it (two starts at once would each take as long as both).
                    self._waiting_for_warm += 1
                    try:
                        self._condition.wait(max(0.0, min(deadline - time.monotonic(), 0.5)))
                    finally:
                        self._waiting_for_warm -= 1
                    if time.monotonic() >= deadline:
                        raise PoolBusy(self._busy_message())
                    continue
                elif self._per_version[version] < self.config.max_runners:
                    self._starting += 1
                    self._per_version[version] += 1
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
                self._discard(runner, "died")
                continue
            if self._reserve_slot():
                return self._start(version, into="busy")
            with self._condition:
                self._starting -= 1
                self._forget_version_runner(version)
                if time.monotonic() >= deadline:
                    raise PoolBusy(self._busy_message())
                self._condition.wait(0.05)

    def _busy_message(self) -> str:
        return (
            f"no runner for {self.key.environment_key} became free within "
            f"{self.config.acquire_timeout:g} s ({self.config.max_runners} per skill version, "
            f"{self.config.runners_per_host} per host)"
        )

    def _start(self, version: Version | None, *, into: str) -> RunnerProcess:
        """Start a runner for which ``_starting`` (and ``_warming`` for a standby one, and the
        version's count for a bound one) and a host slot are already counted."""
        try:
            cgroup = runner_cgroup_make(
                self.cgroups,
                memory_mb=self.config.memory_mb,
                max_processes=self.config.max_processes,
            )
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
                cgroup=cgroup,
                preimport=self.preimport,
                host_uid=self.config.sandbox_host_uid,
            )
            runner.version = version
        except BaseException:
            with self._condition:
                self._starting -= 1
                if version is None:
                    self._warming -= 1
                else:
                    self._forget_version_runner(version)
                self._condition.notify_all()
            self._release_slot()
            raise
        with self._condition:
            self._starting -= 1
            self._counters["started"] += 1
            if version is None:
                self._warming -= 1
                self._standby.append(runner)
            elif into == "busy":
                self._busy.add(runner)
            else:
                self._idle.setdefault(version, []).append(runner)
            self._condition.notify_all()
        if self._closed and into != "busy":
            with self._condition:
                self._take_idle(runner)
            runner.close()
            self._release_slot()
        return runner

    def _start_logged(self, version: Version | None, *, into: str = "standby") -> bool:
        try:
            self._start(version, into=into)
        except Exception:
            logger.exception("runtime: could not start a runner for %s", self.key)
            return False
        return True

    def _refill_standby(self, *, is_replacement: bool = False) -> None:
        """Start standby runners in the background until ``min_runners`` are there."""
        with self._condition:
            missing = self.config.min_runners - len(self._standby) - self._warming
            if self._closed or missing <= 0:
                return
            self._starting += missing
            self._warming += missing
            if is_replacement:
                self._counters["replaced"] += missing
        for _ in range(missing):
            threading.Thread(target=self._replace, name="atom-runner-standby", daemon=True).start()

    def _replace(self) -> None:
        if self._reserve_slot():
            self._start_logged(None)
        else:
            with self._condition:
                self._starting -= 1
                self._warming -= 1
                self._condition.notify_all()

    def _extra_env(self) -> dict[str, str]:
        if self.key.kind == "node" and self.module_paths:
            return {"NODE_PATH": os.pathsep.join(str(path) for path in self.module_paths)}
        return {}

    def _preload_one(self, ref: SkillRef) -> None:
        """Start a runner bound to a preloaded skill's current version and load it."""
        try:
            version_hash, source = self._version_of(ref.path, ref.content_hash, None)
        except SourceUnreadable as error:
            self._preload_failed(f"{ref.skill_id}: OSError: {error}")
            return
        version = (ref.skill_id, version_hash)
        with self._condition:
            if self._closed or self._per_version[version]:
                return
            self._starting += 1
            self._per_version[version] += 1
        if not self._reserve_slot():
            with self._condition:
                self._starting -= 1
                self._forget_version_runner(version)
            return
        try:
            runner = self._start(version, into="busy")
        except Exception:
            logger.exception("runtime: could not start a runner for %s", self.key)
            return
        request = {
            "op": "load",
            "skill_id": ref.skill_id,
            "path": str(ref.path),
            "content_hash": version_hash,
            "exact": True,
        }
        try:
            answer, _, _ = runner.request(request, timeout=self.config.start_timeout)
            if answer.get("need_source"):
                request["source"] = source
                answer, _, _ = runner.request(request, timeout=self.config.start_timeout)
        except RunnerError:
            self._discard(runner, "died")
            return
        if answer.get("ok"):
            with self._condition:
                self._current[ref.skill_id] = version_hash
            self._give_back(runner, healthy=True)
            return
        error = answer.get("error") or {}
        self._preload_failed(f"{ref.skill_id}: {error.get('type')}: {error.get('message')}")
        self._discard(runner, "retired")

    def _preload_failed(self, message: str) -> None:
        with self._condition:
            if message not in self._preload_errors:
                self._preload_errors.append(message)
        logger.warning("runtime: preload failed for %s", message)

    def _borrow_idle(self) -> list[RunnerProcess]:
        with self._condition:
            borrowed = self._idle_runners_and_standby()
            self._standby, self._idle = [], {}
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
                runner.last_used = time.monotonic()
                if runner.version is None:
                    self._standby.append(runner)
                else:
                    self._idle.setdefault(runner.version, []).append(runner)
                self._condition.notify_all()
                return
        runner.close()
        self._release_slot()

    def _discard(self, runner: RunnerProcess, reason: str) -> None:
        """Let a runner go for good; standby runners are topped up in the background."""
        with self._condition:
            self._busy.discard(runner)
            self._take_idle(runner)
            if runner.version is not None:
                self._forget_version_runner(runner.version)
            self._counters[reason] += 1
            self._condition.notify_all()
        if reason == "recycled":
            runner.close(grace=0.2)
        else:
            runner.kill()
        self._release_slot()
        self._refill_standby(is_replacement=True)

    def _reserve_slot(self) -> bool:
        return True if self._registry is None else self._registry.reserve_slot(self)

    def _release_slot(self) -> None:
        if self._registry is not None:
            self._registry.release_slot()

    def _version_of(
        self, path: Path | str, content_hash: str | None, source: str | Callable[[], str] | None
    ) -> tuple[str, str | Callable[[], str]]:
        """The version a call runs, and where its source comes from if the runner asks."""
        if source is not None and content_hash:
            return content_hash, source
        text = self._source_text(source, str(path))
        return hashlib.sha256(text.encode("utf-8")).hexdigest(), text

    def _note_version(self, version: Version, result: CallResult) -> CallResult:
        """A first load of a skill that ran with another hash before is a hot reload: say so,
        and shut the idle runners of the version it replaced."""
        skill_id, version_hash = version
        with self._condition:
            previous = self._current.get(skill_id)
            self._current[skill_id] = version_hash
            is_new = previous not in (None, version_hash)
            replaced = self._idle.pop((skill_id, previous), []) if is_new else []
            for _ in replaced:
                self._forget_version_runner((skill_id, previous))
                self._counters["retired"] += 1
        for _ in replaced:
            self._release_slot()
        runners_close_in_background(replaced)
        if result.cache == "loaded" and is_new:
            return replace(result, cache="reloaded")
        return result

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
        if not runner.group_call_begin(limits.memory_mb, limits.cpu_seconds):
            self._discard(runner, "retired")
            return failure_result(
                MEMORY_LIMIT,
                f"the skill's runner already holds more than the call's memory limit of "
                f"{limits.memory_mb} MB; it is replaced",
                started=started,
                runner_pid=runner.pid,
            )
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
        except (RunnerTimedOut, RunnerCpuExceeded) as stopped:
            report = runner.group_call_end()
            is_timeout = isinstance(stopped, RunnerTimedOut)
            self._discard(runner, "timed_out" if is_timeout else "retired")
            error_type, over = (
                (TIMEOUT, f"its wall-clock limit of {limits.timeout:g} s")
                if is_timeout
                else (CPU_LIMIT, f"its CPU time limit of {limits.cpu_seconds} s, all its processes")
            )
            return failure_result(
                error_type,
                f"the call exceeded {over}; its runner was killed and is replaced",
                started=started,
                runner_pid=runner.pid,
                output=runner.output_so_far(),
                cpu_seconds=report.cpu_seconds if report else None,
            )
        except RunnerDied as error:
            report = runner.group_call_end()
            self._discard(runner, "died")
            over = self._group_limit_error(report, limits)
            return failure_result(
                over[0] if over else RUNNER_DIED,
                over[1]
                if over
                else f"{error} while running the call (a crash, os._exit or an out-of-memory "
                "kill); it is replaced",
                started=started,
                runner_pid=runner.pid,
                output=runner.output_so_far(),
                peak_rss_kb=report.peak_kb if report else None,
                cpu_seconds=report.cpu_seconds if report else None,
            )
        except ProtocolViolation as error:
            runner.group_call_end()
            self._discard(runner, "died")
            return failure_result(
                PROTOCOL_ERROR, str(error), started=started, runner_pid=runner.pid
            )
        except SourceUnreadable as error:
            runner.group_call_end()
            self._give_back(runner, healthy=True)
            return failure_result(
                SOURCE_UNREADABLE, str(error), started=started, runner_pid=runner.pid
            )
        except BaseException:
            self._discard(runner, "died")
            raise
        report = runner.group_call_end()
        over = self._group_limit_error(report, limits)
        runner.calls += 1
        retire = bool(answer.get("retire")) or not runner.is_alive or over is not None
        with self._condition:
            self._counters["calls"] += 1
        if retire:
            self._discard(runner, "retired")
        else:
            self._give_back(runner, healthy=True)
        if over is not None:
            return failure_result(
                *over,
                started=started,
                runner_pid=runner.pid,
                output=(stdout, stderr),
                peak_rss_kb=report.peak_kb if report else None,
                cpu_seconds=report.cpu_seconds if report else None,
            )
        result = result_from_answer(
            answer,
            stdout=stdout,
            stderr=stderr,
            started=started,
            runner_pid=runner.pid,
            is_replaced=retire,
        )
        if report is not None:
            result = replace(result, peak_rss_kb=report.peak_kb, cpu_seconds=report.cpu_seconds)
        return result

    def _group_limit_error(
        self, report: GroupReport | None, limits: ResolvedLimits
    ) -> tuple[str, str] | None:
        """The error of a call whose processes together went over their group's limits."""
        if report is None:
            return None
        if report.oom_kills:
            return (
                MEMORY_LIMIT,
                f"the call's processes together exceeded its memory limit of "
                f"{limits.memory_mb} MB ({report.oom_kills} killed); its runner is replaced",
            )
        if report.forks_refused:
            return (
                PROCESS_LIMIT,
                f"the call tried to run more than {self.config.max_processes} processes at "
                f"once ({report.forks_refused} forks refused); its runner is replaced",
            )
        if report.cpu_seconds is not None and report.cpu_seconds > limits.cpu_seconds:
            return (
                CPU_LIMIT,
                f"the call's processes together exceeded its CPU time limit of "
                f"{limits.cpu_seconds} s ({report.cpu_seconds:.1f} s); its runner is replaced",
            )
        return None

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
