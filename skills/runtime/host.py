"""The per-host registry of runner pools: one pool per (environment, kind, network), the caps on
warm runners per host and on their memory together (when a pool needs a runner and the host
is over either, the least recently used idle runner of any pool is shut first), and the
reaper of idle runners.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from skills.runtime.calls import SkillRef
from skills.runtime.cgroups import cgroup_support_for
from skills.runtime.config import RuntimeConfig
from skills.runtime.pool import PoolKey, RunnerPool

logger = logging.getLogger(__name__)


class PoolRegistry:
    """Every pool of this process, with the per-host runner cap and the idle reaper."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._pools: dict[PoolKey, RunnerPool] = {}
        self._runners = 0
        self._reaper: threading.Thread | None = None
        self._stopping = threading.Event()
        self._owner_pid = os.getpid()
        self.cgroups = cgroup_support_for(config.cgroups)

    @property
    def runner_cap(self) -> int:
        """Warm runners this host may keep: fewer where rlimits, which do not add up a
        runner's children, are all that bounds them."""
        if self.cgroups.is_available:
            return self.config.runners_per_host
        return min(self.config.runners_per_host, self.config.runners_per_host_without_cgroups)

    def memory_in_use(self) -> int:
        """Bytes the warm runners of every pool hold now (their groups, else their own RSS)."""
        return sum(runner.memory_bytes() for pool in self.pools() for runner in pool.runners())

    def pool_for(
        self,
        environment_key: str,
        interpreter: Path | str,
        kind: str = "python",
        *,
        network: bool = False,
        preload: Sequence[SkillRef] | None = None,
        module_paths: Sequence[Path] = (),
        preimport: Sequence[str] = (),
    ) -> RunnerPool:
        """The pool for this environment, created (and warmed to its minimum) on first use."""
        key = PoolKey(environment_key=environment_key, kind=kind, network=network)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None and not pool.is_closed:
                pool.last_used = time.monotonic()  # under the lock: the reaper checks it there
                return pool
            pool = RunnerPool(
                key=key,
                interpreter=Path(interpreter),
                config=self.config,
                registry=self,
                preload=preload_from_settings(self.config.preload) if preload is None else preload,
                module_paths=module_paths,
                preimport=preimport,
            )
            self._pools[key] = pool
            self._start_reaper()
        pool.warm()
        return pool

    def pools(self) -> list[RunnerPool]:
        with self._lock:
            return list(self._pools.values())

    @property
    def runner_count(self) -> int:
        with self._lock:
            return self._runners

    def reserve_slot(self, requester: RunnerPool) -> bool:
        """Count one more runner on the host, shutting the least recently used idle runner of
        any pool while the host is at its runner cap or over its memory cap. False when nothing
        could be freed."""
        memory_cap = self.config.runners_memory_mb * 1024 * 1024
        while True:
            is_memory_full = self.memory_in_use() >= memory_cap
            with self._lock:
                if self._runners < self.runner_cap and not is_memory_full:
                    self._runners += 1
                    return True
                candidates = [
                    (runner.last_used, index, pool, runner)
                    for index, pool in enumerate(self._pools.values())
                    for runner in pool.idle_runners()
                ]
            if not candidates:
                if is_memory_full and self._runners < self.runner_cap:
                    with self._lock:  # nothing to shut: let the call run rather than fail it
                        self._runners += 1
                    return True
                return False
            _, _, pool, runner = min(candidates, key=lambda item: (item[0], item[1]))
            pool.evict(runner)

    def release_slot(self) -> None:
        with self._lock:
            self._runners = max(0, self._runners - 1)

    def reap_idle(self) -> int:
        """Close runners idle for longer than the idle timeout; drop pools left empty."""
        closed = 0
        for pool in self.pools():
            closed += pool.shrink_idle(idle_for=self.config.idle_seconds)
            with self._lock:
                is_unused = (
                    self._pools.get(pool.key) is pool
                    and pool.size() == 0
                    and time.monotonic() - pool.last_used >= self.config.idle_seconds
                )
                if is_unused:
                    del self._pools[pool.key]
            if is_unused:
                pool.shutdown()
        return closed

    def shutdown(self) -> None:
        if os.getpid() != self._owner_pid:
            return  # inherited through fork: these runners are the parent's to stop
        self._stopping.set()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown()

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._stopping.clear()
        self._reaper = threading.Thread(target=self._reap_forever, name="atom-reaper", daemon=True)
        self._reaper.start()

    def _reap_forever(self) -> None:
        interval = max(0.05, min(self.config.idle_seconds / 4, 30.0))
        while not self._stopping.wait(interval):
            try:
                self.reap_idle()
            except Exception:
                logger.exception("runtime: reaping idle runners failed")


def preload_from_settings(entries: Sequence[str]) -> list[SkillRef]:
    """``ATOM_PRELOAD_SKILLS`` entries: ``path`` or ``skill-id=path``."""
    refs = []
    for entry in entries:
        skill_id, separator, path = entry.partition("=")
        if not separator:
            path, skill_id = entry, Path(entry).stem
        refs.append(SkillRef(skill_id=skill_id.strip(), path=Path(path.strip())))
    return refs
