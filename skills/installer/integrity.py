"""`envs verify`: every kept lock and every ready environment checked, and with `repair`, what
is broken discarded (a lock: the next install resolves again) or built again (an environment)."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from skills.installer.backends import InstallError, backend_get
from skills.installer.builder import environment_obtain
from skills.installer.keys import EnvironmentSpec, InterpreterError, interpreter_for
from skills.installer.locks import LockInvalid, lock_check, lock_discard, lock_format_of, locks_dir
from skills.models import Environment
from skills.models.environments import EnvironmentStatus


@dataclass(frozen=True)
class Broken:
    what: str  # "lock" or "environment"
    key: str
    reason: str
    repaired: bool = False
    repair_error: str = ""


@dataclass
class IntegrityReport:
    locks_checked: int = 0
    environments_checked: int = 0
    broken: list[Broken] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Broken]:
        return [item for item in self.broken if not item.repaired]

    @property
    def summary(self) -> str:
        repaired = len(self.broken) - len(self.unrepaired)
        return (
            f"checked {self.locks_checked} lock(s) and {self.environments_checked} ready "
            f"environment(s): {len(self.broken)} broken, {repaired} repaired, "
            f"{len(self.unrepaired)} left broken"
        )


def locks_verify(*, repair: bool) -> tuple[int, list[Broken]]:
    """`lock_check` on every kept lock; a broken one is discarded when repairing."""
    directory = locks_dir()
    paths = sorted(directory.glob("*.lock")) if directory.is_dir() else []
    broken = []
    for path in paths:
        key = path.name.removesuffix(".lock")
        text = path.read_text(errors="replace")
        try:
            lock_check(text, lock_format=lock_format_of(text))
        except LockInvalid as error:
            if repair:
                lock_discard(key)
            broken.append(Broken("lock", key, str(error), repaired=repair))
    return len(paths), broken


def spec_of(environment: Environment) -> EnvironmentSpec:
    """The spec a ready row was built from, for this host's interpreter (raises
    `InterpreterError` when it does not run)."""
    return EnvironmentSpec(
        language=environment.language,
        requirements=tuple(environment.requirements),
        backend=environment.backend,
        interpreter=interpreter_for(environment.language),
        policy_version=environment.policy_version,
        base_image=settings.ATOM_DOCKER_BASE_IMAGE if environment.backend == "docker" else "",
    )


def environment_check(environment: Environment) -> str | None:
    """Why a ready environment is broken, or None when it is whole."""
    try:
        spec = spec_of(environment)
        backend_get(environment.backend).check(
            spec=spec, location=environment.location, log=lambda line: None
        )
    except (InstallError, InterpreterError) as error:
        return getattr(error, "message", None) or str(error)
    return None


def environment_repair(*, environment: Environment, reason: str) -> str:
    """Build a broken ready environment again under its own key; '' or why it failed."""
    try:
        spec = spec_of(environment)
    except InterpreterError as error:
        return str(error)
    if spec.key != environment.key:
        return "built for another interpreter or platform than this host's; not rebuilt here"
    # Out of "ready" with a conditional update (a concurrent repair or demotion wins once),
    # then claimed and built as any missing environment is.
    Environment.objects.filter(
        pk=environment.pk, status=EnvironmentStatus.READY, ready_at=environment.ready_at
    ).update(status=EnvironmentStatus.PENDING, error=f"verify: {reason[:500]}; rebuilding")
    try:
        environment_obtain(spec=spec)
    except InstallError as error:
        return error.message
    return ""


def installs_verify(*, repair: bool, log: Callable[[str], None]) -> IntegrityReport:
    """Check every kept lock and every ready environment; with `repair`, discard the broken
    locks and rebuild the broken environments. `log` gets one line per broken item."""
    report = IntegrityReport()
    report.locks_checked, broken_locks = locks_verify(repair=repair)
    for item in broken_locks:
        log(f"lock {item.key}: {item.reason}" + ("; discarded" if item.repaired else ""))
    report.broken += broken_locks
    ready = Environment.objects.filter(status=EnvironmentStatus.READY).order_by("key")
    for environment in ready:
        report.environments_checked += 1
        reason = environment_check(environment)
        if reason is None:
            continue
        failure = environment_repair(environment=environment, reason=reason) if repair else ""
        item = Broken(
            "environment",
            environment.key,
            reason,
            repaired=repair and not failure,
            repair_error=failure,
        )
        outcome = ""
        if repair:
            outcome = "; rebuilt" if item.repaired else f"; rebuild failed: {failure}"
        log(f"environment {environment.key}: {reason}{outcome}")
        report.broken.append(item)
    return report
