"""What `perf analyze`, the dashboard and the report show: verdicts, slowest subjects, cache
hit rates and per-agent figures, all aggregated in the database.

What the other apps record and these figures rely on: a `marketplace_search` sample carries
`cache_hit` (true/false) in its context; a runner pool records `skill_load` or `hot_reload`
beside a `skill_run` only when the call had to load the module; an environment cache hit is its
own operation (`environment_cache_hit`) beside `package_install`; workflow steps record
`step_run` with `workflow`, `step` and `agent`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Avg, Count, Max, Q
from django.db.models.functions import Coalesce

from perf.analysis import OperationSummary, summary
from perf.models import Baseline, Budget, Sample
from perf.registry import queued_work

# The operations these figures read, under the names the apps record them with (the apps own
# the names; perf imports no app).
PACKAGE_INSTALL = "package_install"
ENVIRONMENT_CACHE_HIT = "environment_cache_hit"
SKILL_LOAD = "skill_load"
HOT_RELOAD = "hot_reload"
SKILL_RUN = "skill_run"
MARKETPLACE_SEARCH = "marketplace_search"


@dataclass(frozen=True)
class OperationReport:
    summary: OperationSummary
    budget: float | None
    budget_statistic: str | None
    baseline: Baseline | None
    threshold: float

    @property
    def baseline_p99(self) -> float | None:
        return self.baseline.p99 if self.baseline is not None else None

    @property
    def is_over_budget(self) -> bool:
        return (
            self.budget is not None and self.summary.statistic(self.budget_statistic) > self.budget
        )

    @property
    def is_regressed(self) -> bool:
        return (
            self.baseline_p99 is not None and self.summary.p99 > self.threshold * self.baseline_p99
        )

    @property
    def verdict(self) -> str:
        problems = []
        if self.is_over_budget:
            problems.append("over budget")
        if self.is_regressed:
            problems.append("regressed")
        return ", ".join(problems) or "ok"

    def as_dict(self) -> dict:
        return {
            **self.summary.as_dict(),
            "budget": self.budget,
            "budget_statistic": self.budget_statistic,
            "baseline_p99": self.baseline_p99,
            "verdict": self.verdict,
        }


def operations_report(
    *, since: datetime, until: datetime, threshold: float
) -> list[OperationReport]:
    budgets = {budget.operation: budget for budget in Budget.objects.all()}
    baselines = {b.operation: b for b in Baseline.objects.filter(skill="", version="")}
    reports = []
    for item in summary(since=since, until=until):
        budget = budgets.get(item.operation)
        reports.append(
            OperationReport(
                item,
                budget.seconds if budget else None,
                budget.statistic if budget else None,
                baselines.get(item.operation),
                threshold,
            )
        )
    return reports


@dataclass(frozen=True)
class SubjectTiming:
    name: str
    count: int
    average: float
    maximum: float

    def as_dict(self) -> dict:
        return asdict(self)


def slowest(
    *, field: str, since: datetime, until: datetime, limit: int = 10
) -> list[SubjectTiming]:
    """The subjects (skill, step, workflow, agent…) whose samples take longest on average."""
    rows = (
        Sample.objects.filter(created_at__gte=since, created_at__lt=until)
        .exclude(**{field: ""})
        .values(field)
        .annotate(count=Count("id"), average=Avg("duration"), maximum=Max("duration"))
        .order_by("-average")[:limit]
    )
    return [SubjectTiming(r[field], r["count"], r["average"], r["maximum"]) for r in rows]


@dataclass(frozen=True)
class HitRate:
    cache: str
    hits: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.hits / self.total if self.total else None

    def as_dict(self) -> dict:
        return {**asdict(self), "rate": self.rate}


def cache_hit_rates(*, since: datetime, until: datetime) -> list[HitRate]:
    window = Sample.objects.filter(created_at__gte=since, created_at__lt=until)
    environments = window.aggregate(
        hits=Count("id", filter=Q(operation=ENVIRONMENT_CACHE_HIT)),
        total=Count("id", filter=Q(operation__in=[ENVIRONMENT_CACHE_HIT, PACKAGE_INSTALL])),
    )
    return [
        HitRate("environments", environments["hits"], environments["total"]),
        marketplace_hit_rate(window),
        loader_hit_rate(window),
    ]


def marketplace_hit_rate(window) -> HitRate:
    """Searches answered from the cache: `skill_search` records `cache_hit` (true/false)."""
    counted = window.filter(operation=MARKETPLACE_SEARCH, context__has_key="cache_hit").aggregate(
        hits=Count("id", filter=Q(context__cache_hit=True)), total=Count("id")
    )
    return HitRate("marketplace", counted["hits"], counted["total"])


def loader_hit_rate(window) -> HitRate:
    """Runs whose skill module was already loaded in its runner. A runner pool records
    `skill_load` (first load) or `hot_reload` (new code) beside the `skill_run` only when the
    call had to load; Docker runs load every time and are not the loader's."""
    counted = window.aggregate(
        runs=Count("id", filter=Q(operation=SKILL_RUN)),
        docker=Count("id", filter=Q(operation=SKILL_RUN, context__backend="docker")),
        loads=Count("id", filter=Q(operation__in=[SKILL_LOAD, HOT_RELOAD])),
    )
    runs = counted["runs"] - counted["docker"]
    return HitRate("loader", max(0, runs - counted["loads"]), runs)


@dataclass(frozen=True)
class AgentFigures:
    agent: str
    tasks: int
    succeeded: int
    mean_seconds: float
    queued: int = 0

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.tasks if self.tasks else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "success_rate": self.success_rate}


def agent_metrics(*, since: datetime, until: datetime) -> list[AgentFigures]:
    """Tasks completed, success rate and mean completion time per agent (from its samples in
    the window), and how much of its work is waiting now."""
    rows = (
        Sample.objects.filter(created_at__gte=since, created_at__lt=until)
        .exclude(agent="")
        .values("agent")
        .annotate(
            tasks=Count("id"),
            succeeded=Count("id", filter=Q(ok=True)),
            mean=Coalesce(Avg("duration"), 0.0),
        )
    )
    queued = agent_queue_lengths()
    figures = {
        r["agent"]: AgentFigures(
            r["agent"], r["tasks"], r["succeeded"], r["mean"], queued.get(r["agent"], 0)
        )
        for r in rows
    }
    for agent, count in queued.items():
        figures.setdefault(agent, AgentFigures(agent, 0, 0, 0.0, count))
    return [figures[agent] for agent in sorted(figures)]


def agent_queue_lengths() -> dict[str, int]:
    """Work waiting now per agent slug: not a sample but the rows the apps register as queued
    work (`perf.registry.queued_work_register`)."""
    counts: Counter[str] = Counter()
    for work in queued_work():
        rows = (
            work.model.objects.filter(status=work.status, agent__isnull=False)
            .values("agent__slug")
            .annotate(count=Count("id"))
        )
        for row in rows:
            counts[row["agent__slug"]] += row["count"]
    return dict(counts)
