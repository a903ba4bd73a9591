"""What the apps tell perf about themselves, from their `AppConfig.ready()`.

perf is a library and imports no other app. An app registers the operation names it records
(with the budget each starts from), the rows that are work queued for an agent, how to find an
environment's lockfile and what people call a recorded version:

    class ShopConfig(AppConfig):
        def ready(self) -> None:
            operation_register("checkout", seed_budget=0.5)
            queued_work_register(Delivery, status="queued")

With nothing registered, the figures that need it are left out: no queue lengths, no lockfile
differences in a version alert, versions shown as recorded. Registering a name again replaces
what it had. Nothing here imports Django, so a module that must load without it can register.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.db.models import Model


@dataclass(frozen=True)
class Operation:
    name: str
    seed_budget: float | None  # seconds: the reference system's published budget, if it has one


@dataclass(frozen=True)
class QueuedWork:
    """Rows of `model` in `status` are work waiting for the agent of their `agent` foreign key
    (an agent with a `slug`)."""

    model: type[Model]
    status: str


class LockfileLookup(Protocol):
    def __call__(self, *, key: str) -> str | None:
        """The lockfile text of the environment with this key, or None."""


class VersionNames(Protocol):
    def __call__(self, *, skill: str, versions: list[str]) -> dict[str, str]:
        """What people call those of `versions` of `skill` that the app knows."""


@dataclass
class _Lookups:
    lockfile: LockfileLookup | None = None
    version_names: VersionNames | None = None


_operations: dict[str, Operation] = {}
_queued_work: dict[tuple[str, str], QueuedWork] = {}
_lookups = _Lookups()


def operation_register(name: str, *, seed_budget: float | None = None) -> None:
    """`name` is an operation an app records: known to the API before its first sample."""
    _operations[name] = Operation(name, seed_budget)


def queued_work_register(model: type[Model], *, status: str) -> None:
    """Count `model`'s rows in `status` in each agent's queue length."""
    _queued_work[(model._meta.label, status)] = QueuedWork(model, status)


def lockfile_lookup_register(lookup: LockfileLookup) -> None:
    """`lookup(key=…)` gives the lockfile of the environment a sample's `environment_key` names,
    for the package changes in a version regression's alert."""
    _lookups.lockfile = lookup


def version_names_register(names: VersionNames) -> None:
    """`names(skill=…, versions=[…])` gives the names of recorded versions (a content hash's
    version number), for the version regressions."""
    _lookups.version_names = names


def operations_known() -> frozenset[str]:
    return frozenset(_operations)


def seed_budgets() -> dict[str, float]:
    """The budgets the registered operations start from, in seconds."""
    return {
        operation.name: operation.seed_budget
        for operation in _operations.values()
        if operation.seed_budget is not None
    }


def queued_work() -> list[QueuedWork]:
    return list(_queued_work.values())


def lockfile_lookup() -> LockfileLookup | None:
    return _lookups.lockfile


def version_names_lookup() -> VersionNames | None:
    return _lookups.version_names
