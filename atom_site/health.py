"""Real checks of every moving part, for `GET /api/health` and the `up` command."""

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from asgiref.sync import sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.status import Stat

from atom_site.cache import SharedRedisCache
from skills.runtime import isolation_status

ALIVE_CLUSTER_STATES = frozenset({Conf.STARTING, Conf.WORKING, Conf.IDLE})


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class HealthReport:
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "failing",
            "failed": self.failed,
            "checks": {check.name: asdict(check) for check in self.checks},
        }


def check_database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connections['default'].vendor} answered"


def check_migrations() -> str:
    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        pending = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        raise RuntimeError(f"{len(plan)} migration(s) not applied: {pending}")
    return "all applied"


def check_cache() -> str:
    """Redis itself when the cache is Redis (past its database fallback), else a round trip."""
    cache = caches["default"]
    if isinstance(cache, SharedRedisCache):
        return cache.redis_ping()
    key, nonce = f"health:{secrets.token_hex(8)}", secrets.token_hex(8)
    cache.set(key, nonce, timeout=10)
    found = cache.get(key)
    cache.delete(key)
    if found != nonce:
        raise RuntimeError(f"{type(cache).__name__} did not return what was written")
    return f"{type(cache).__name__} round trip"


def check_broker() -> str:
    broker = get_broker()
    size = broker.queue_size()
    return f"{broker.info()} reachable, {size} task(s) queued"


def check_cluster() -> str:
    stats = [stat for stat in Stat.get_all() if stat.status in ALIVE_CLUSTER_STATES]
    if not stats:
        raise RuntimeError("no django-q2 cluster is running (start it with `manage.py qcluster`)")
    workers = sum(len(stat.workers) for stat in stats)
    return f"{len(stats)} cluster(s) alive with {workers} worker(s)"


def check_runner_isolation() -> str:
    """How skills are isolated here; failing only when the settings ask for more than the host
    has (ATOM_SANDBOX=bwrap, ATOM_RUNNER_CGROUPS=required)."""
    is_ok, detail = isolation_status()
    if not is_ok:
        raise RuntimeError(detail)
    return detail


async def check_channel_layer() -> str:
    """Send a message to a fresh channel and read it back through the configured layer."""
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    try:
        channel = await layer.new_channel()
        nonce = secrets.token_hex(8)
        await layer.send(channel, {"type": "health.ping", "nonce": nonce})
        message = await layer.receive(channel)
        if message.get("nonce") != nonce:
            raise RuntimeError("the layer returned another message")
    finally:
        await _close_layer(layer)
    return f"{type(layer).__name__} round trip"


async def _close_layer(layer) -> None:
    for name in ("close_pools", "close"):
        closer = getattr(layer, name, None)
        if closer is not None:
            await closer()
            return


async def _timed(name: str, check: Callable, timeout: float) -> CheckResult:
    started = time.perf_counter()
    try:
        if asyncio.iscoroutinefunction(check):
            detail = await asyncio.wait_for(check(), timeout)
        else:
            detail = await asyncio.wait_for(sync_to_async(check, thread_sensitive=True)(), timeout)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer within {timeout:g} s"
    except Exception as error:  # a health check reports every failure, whatever it is
        ok, detail = False, f"{type(error).__name__}: {error}"
    return CheckResult(name, ok, detail, round(time.perf_counter() - started, 4))


SYNC_CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("database", check_database),
    ("migrations", check_migrations),
    ("cache", check_cache),
    ("broker", check_broker),
    ("cluster", check_cluster),
    ("runner_isolation", check_runner_isolation),
]


async def health_report() -> HealthReport:
    timeout = settings.ATOM_HEALTH_TIMEOUT
    results = [await _timed(name, check, timeout) for name, check in SYNC_CHECKS]
    results.append(await _timed("channel_layer", check_channel_layer, timeout))
    return HealthReport(results)
