"""Compare recent percentiles with baselines and budgets, per operation and per skill version.

`*_compute` functions only read; `*_check` functions also open alerts for what is over its
limit and close the alerts of what is back under. A subject with fewer than
`PERF_MIN_SAMPLES` samples in the window gets no verdict, and its alert is left as it is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from perf.alerts import alert_close, alert_raise
from perf.analysis import OperationSummary, summary, summary_of, window_check
from perf.insights import SKILL_RUN
from perf.lockfiles import lockfile_diff, lockfile_of_sampled_environment, version_names
from perf.models import STATISTICS, Alert, Baseline, Budget, Sample

# Over this many times the limit, an alert is critical rather than a warning.
CRITICAL_FACTOR = 2.0


class ThresholdInvalidError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Verdict:
    """One operation's statistic against a limit (a baseline × threshold, or a budget)."""

    operation: str
    statistic: str
    observed: float
    reference: float
    limit: float
    count: int

    @property
    def is_breached(self) -> bool:
        return self.observed > self.limit

    @property
    def ratio(self) -> float:
        return self.observed / self.reference if self.reference else float("inf")

    @property
    def severity(self) -> str:
        critical = self.observed > CRITICAL_FACTOR * self.limit
        return Alert.Severity.CRITICAL if critical else Alert.Severity.WARNING

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "is_breached": self.is_breached}


@dataclass(frozen=True)
class VersionVerdict:
    """A skill's newest version against the version before it."""

    operation: str
    skill: str
    previous_version: str
    version: str
    previous_p95: float
    p95: float
    limit: float
    count: int
    environment_changes: str
    previous_name: str = ""  # the version numbers when the versions are content hashes
    name: str = ""

    @property
    def is_breached(self) -> bool:
        return self.p95 > self.limit

    @property
    def ratio(self) -> float:
        return self.p95 / self.previous_p95 if self.previous_p95 else float("inf")

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "is_breached": self.is_breached}

    def message(self, threshold: float) -> str:
        changes = self.environment_changes or "no environment change known"
        return (
            f"{self.operation} of {self.skill}: version {self.name or self.version} p95 "
            f"{self.p95:.4g} s is {self.ratio:.2f}× version "
            f"{self.previous_name or self.previous_version}'s {self.previous_p95:.4g} s "
            f"(threshold {threshold:g}×); environment: {changes}"
        )


def threshold_checked(threshold: float | None) -> float:
    value = settings.PERF_REGRESSION_THRESHOLD if threshold is None else threshold
    if not value >= 1:
        raise ThresholdInvalidError("threshold", f"threshold must be at least 1, not {value!r}")
    return value


def statistic_checked(statistic: str | None) -> str:
    value = settings.PERF_REGRESSION_STATISTIC if statistic is None else statistic
    if value not in STATISTICS:
        raise ThresholdInvalidError(
            "statistic", f"statistic must be one of {', '.join(STATISTICS)}"
        )
    return value


def default_window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or timezone.now()
    since = since or until - timedelta(seconds=settings.PERF_CHECK_WINDOW)
    window_check(since, until)
    return since, until


def _judged(summaries: list[OperationSummary]) -> dict[str, OperationSummary]:
    return {item.operation: item for item in summaries if item.count >= settings.PERF_MIN_SAMPLES}


def regressions_compute(
    *,
    operation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    threshold: float | None = None,
    statistic: str | None = None,
) -> list[Verdict]:
    """Each baselined operation's statistic in the window against threshold × its baseline."""
    threshold = threshold_checked(threshold)
    statistic = statistic_checked(statistic)
    since, until = default_window(since, until)
    baselines = Baseline.objects.filter(skill="", version="")
    if operation is not None:
        baselines = baselines.filter(operation=operation)
    measured = _judged(summary(operation=operation, since=since, until=until))
    verdicts = []
    for baseline in baselines:
        found = measured.get(baseline.operation)
        reference = baseline.statistic(statistic)
        if found is None or reference <= 0:
            continue
        verdicts.append(
            Verdict(
                baseline.operation,
                statistic,
                found.statistic(statistic),
                reference,
                threshold * reference,
                found.count,
            )
        )
    return verdicts


def budgets_compute(
    *,
    operation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Verdict]:
    """Each budgeted operation's budget statistic in the window against its budget."""
    since, until = default_window(since, until)
    budgets = Budget.objects.all()
    if operation is not None:
        budgets = budgets.filter(operation=operation)
    measured = _judged(summary(operation=operation, since=since, until=until))
    verdicts = []
    for budget in budgets:
        found = measured.get(budget.operation)
        if found is None:
            continue
        observed = found.statistic(budget.statistic)
        verdicts.append(
            Verdict(
                budget.operation,
                budget.statistic,
                observed,
                budget.seconds,
                budget.seconds,
                found.count,
            )
        )
    return verdicts


def regressions_check(**window) -> list[Verdict]:
    verdicts = regressions_compute(**window)
    for verdict in verdicts:
        _alert_update(
            Alert.Kind.REGRESSION,
            verdict,
            f"{verdict.operation} {verdict.statistic} {verdict.observed:.4g} s is "
            f"{verdict.ratio:.2f}× its baseline {verdict.reference:.4g} s "
            f"(limit {verdict.limit:.4g} s)",
        )
    return verdicts


def budgets_check(**window) -> list[Verdict]:
    verdicts = budgets_compute(**window)
    for verdict in verdicts:
        _alert_update(
            Alert.Kind.BUDGET,
            verdict,
            f"{verdict.operation} {verdict.statistic} {verdict.observed:.4g} s is over its "
            f"budget of {verdict.limit:.4g} s",
        )
    return verdicts


def _alert_update(kind: str, verdict: Verdict, message: str) -> None:
    if verdict.is_breached:
        alert_raise(
            kind=kind,
            operation=verdict.operation,
            severity=verdict.severity,
            message=message,
            observed=verdict.observed,
            threshold=verdict.limit,
        )
    else:
        alert_close(kind=kind, operation=verdict.operation)


def version_regressions_compute(
    *,
    operation: str = SKILL_RUN,
    since: datetime | None = None,
    until: datetime | None = None,
    threshold: float | None = None,
    lockfile_lookup=None,
) -> list[VersionVerdict]:
    """Each skill's newest version (measured in the window) against the version before it.

    Versions are ordered by their first sample. The previous version's p95 is its baseline when
    one is set, else the p95 of all its samples. `lockfile_lookup(skill, version)` returns the
    lockfile text of the version's environment (or None); the differences are in the verdict.
    By default, the lockfile of the environment the version's newest sample ran in.
    """
    threshold = threshold_checked(threshold)
    since, until = default_window(since, until)
    lookup = lockfile_lookup or lockfile_of_sampled_environment
    first_seen: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    rows = (
        Sample.objects.filter(operation=operation)
        .exclude(skill="")
        .values("skill", "version")
        .annotate(first=Min("created_at"), samples=Count("id"))
    )
    for row in rows:
        first_seen[row["skill"]].append((row["first"], row["version"]))
    verdicts = []
    for skill, versions in sorted(first_seen.items()):
        if len(versions) < 2:
            continue
        versions.sort()
        previous, newest = versions[-2][1], versions[-1][1]
        verdict = _version_verdict(
            operation, skill, previous, newest, since, until, threshold, lookup
        )
        if verdict is not None:
            verdicts.append(verdict)
    return verdicts


def _version_verdict(operation, skill, previous, newest, since, until, threshold, lookup):
    found = summary_of(operation, since=since, until=until, skill=skill, version=newest)
    if found is None or found.count < settings.PERF_MIN_SAMPLES:
        return None
    baseline = Baseline.objects.filter(operation=operation, skill=skill, version=previous).first()
    if baseline is not None:
        previous_p95 = baseline.p95
    else:
        earlier = summary_of(operation, skill=skill, version=previous)
        if earlier is None:
            return None
        previous_p95 = earlier.p95
    changes = ""
    old_text, new_text = lookup(skill, previous), lookup(skill, newest)
    if old_text is not None and new_text is not None:
        changes = lockfile_diff(old_text, new_text).describe()
    names = version_names(skill, [previous, newest])
    return VersionVerdict(
        operation,
        skill,
        previous,
        newest,
        previous_p95,
        found.p95,
        threshold * previous_p95,
        found.count,
        changes,
        names[previous],
        names[newest],
    )


def version_regressions_check(**options) -> list[VersionVerdict]:
    threshold = threshold_checked(options.get("threshold"))
    verdicts = version_regressions_compute(**options)
    for verdict in verdicts:
        if verdict.is_breached:
            alert_raise(
                kind=Alert.Kind.VERSION,
                operation=verdict.operation,
                subject=verdict.skill,
                severity=Alert.Severity.WARNING,
                message=verdict.message(threshold),
                observed=verdict.p95,
                threshold=verdict.limit,
            )
        else:
            alert_close(kind=Alert.Kind.VERSION, operation=verdict.operation, subject=verdict.skill)
    return verdicts


def checks_run() -> dict[str, int]:
    """Every check at once (scheduled every minute); how many subjects each found breached."""
    return {
        "regressions": sum(v.is_breached for v in regressions_check()),
        "budgets": sum(v.is_breached for v in budgets_check()),
        "versions": sum(v.is_breached for v in version_regressions_check()),
    }
