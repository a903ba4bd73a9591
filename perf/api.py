"""The perf API: summaries, samples, alerts, regressions, budgets and baselines."""

from datetime import datetime, timedelta
from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError
from ninja.pagination import paginate

from atom_site.auth import SIGNED_IN, scope_require, staff_require
from atom_site.errors import ApiError, errors_documented
from atom_site.pagination import PageNumber, PageNumberOrCursor
from perf.alerts import alert_acknowledge
from perf.analysis import operation_is_known, summary
from perf.budgets import NoSamplesError, baseline_set_from_window, budget_set
from perf.models import Alert, Baseline, Budget, Sample
from perf.regressions import (
    ThresholdInvalidError,
    regressions_compute,
    threshold_checked,
    version_regressions_compute,
)
from perf.windows import WindowError, window_parse

router = Router(tags=["perf"])

DEFAULT_SPAN = timedelta(hours=24)
Statistic = Literal["p50", "p95", "p99"]


def _invalid(location: str, field: str, message: str) -> ValidationError:
    return ValidationError([{"loc": [location, field], "msg": message, "type": "value_error"}])


def _window(since: str | None, until: str | None, location: str = "query"):
    try:
        return window_parse(since=since, until=until, default_span=DEFAULT_SPAN)
    except WindowError as error:
        raise _invalid(location, error.field, str(error)) from None


def _known(operation: str | None) -> None:
    if operation is not None and not operation_is_known(operation):
        raise ApiError(404, f"unknown operation {operation!r}", field="operation")


# Schemas -------------------------------------------------------------------------------------


class WindowIn(Schema):
    since: str | None = Field(None, description='ISO 8601 instant or a span back from now: "24h"')
    until: str | None = Field(None, description="ISO 8601 instant or a span; default now")


class SummaryFilter(WindowIn):
    operation: str | None = None


class BaselineOut(Schema):
    p50: float
    p95: float
    p99: float
    count: int
    source: str
    set_at: datetime


class OperationOut(Schema):
    operation: str
    count: int
    error_count: int
    average: float
    minimum: float
    maximum: float
    p50: float
    p95: float
    p99: float
    budget: float | None
    budget_statistic: str | None
    baseline: BaselineOut | None


class SummaryOut(Schema):
    since: datetime
    until: datetime
    operations: list[OperationOut]


class SampleFilter(WindowIn):
    operation: str | None = None
    skill: str | None = None
    version: str | None = None
    ok: bool | None = None


class SampleOut(Schema):
    id: int
    operation: str
    duration: float
    ok: bool
    error: str
    skill: str
    version: str
    environment_key: str
    workflow: str
    step: str
    agent: str
    host: str
    context: dict
    created_at: datetime


class AlertFilter(Schema):
    state: Literal["open", "closed", "all"] = "open"
    operation: str | None = None
    kind: Literal["regression", "budget", "version", "resource"] | None = None


class AlertOut(Schema):
    id: int
    kind: str
    operation: str
    subject: str
    severity: str
    message: str
    observed: float
    threshold: float
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    acknowledged_by: str | None = Field(None, alias="acknowledged_by.username")
    acknowledged_at: datetime | None


class RegressionFilter(WindowIn):
    operation: str | None = None
    threshold: float | None = Field(None, description="multiple of the baseline; at least 1")
    statistic: Statistic | None = None


class VerdictOut(Schema):
    operation: str
    statistic: str
    observed: float
    reference: float
    limit: float
    ratio: float
    count: int
    is_breached: bool


class VersionVerdictOut(Schema):
    operation: str
    skill: str
    previous_version: str
    version: str
    previous_p95: float
    p95: float
    limit: float
    ratio: float
    count: int
    is_breached: bool
    environment_changes: str
    previous_name: str = Field("", description="the version number, when versions are hashes")
    name: str = ""


class RegressionsOut(Schema):
    since: datetime
    until: datetime
    threshold: float
    operations: list[VerdictOut]
    versions: list[VersionVerdictOut]


class BudgetIn(Schema):
    seconds: float = Field(..., gt=0, description="seconds; must be above 0")
    statistic: Statistic | None = None


class BudgetOut(Schema):
    operation: str
    seconds: float
    statistic: str
    updated_at: datetime


class BaselineWindowIn(WindowIn):
    skill: str = ""
    version: str = ""


class BaselineSetOut(BaselineOut):
    operation: str
    skill: str
    version: str


# Reads ---------------------------------------------------------------------------------------


@router.get("/summary", response={200: SummaryOut, **errors_documented(404, 422)})
def summary_read(request: HttpRequest, filters: Query[SummaryFilter]):
    """p50/p95/p99, count, average, min and max per operation, beside its budget and baseline."""
    _known(filters.operation)
    since, until = _window(filters.since, filters.until)
    budgets = {budget.operation: budget for budget in Budget.objects.all()}
    baselines = {b.operation: b for b in Baseline.objects.filter(skill="", version="")}
    operations = []
    for item in summary(operation=filters.operation, since=since, until=until):
        budget = budgets.get(item.operation)
        operations.append(
            {
                **item.as_dict(),
                "budget": budget.seconds if budget else None,
                "budget_statistic": budget.statistic if budget else None,
                "baseline": baselines.get(item.operation),
            }
        )
    return {"since": since, "until": until, "operations": operations}


@router.get("/samples", response={200: list[SampleOut], **errors_documented(404, 422)})
@paginate(PageNumberOrCursor, page_size=50)
def samples_list(request: HttpRequest, filters: Query[SampleFilter]) -> QuerySet[Sample]:
    """Raw samples, newest first, filtered by operation, skill, version, outcome and window."""
    _known(filters.operation)
    since, until = _window(filters.since, filters.until)
    samples = Sample.objects.filter(created_at__gte=since, created_at__lt=until)
    for name in ("operation", "skill", "version", "ok"):
        value = getattr(filters, name)
        if value is not None:
            samples = samples.filter(**{name: value})
    return samples.order_by("-created_at", "-id")


@router.get("/alerts", response={200: list[AlertOut], **errors_documented(404, 422)})
@paginate(PageNumber, page_size=50)
def alerts_list(request: HttpRequest, filters: Query[AlertFilter]) -> QuerySet[Alert]:
    """Alerts, newest first: open ones by default."""
    _known(filters.operation)
    alerts = Alert.objects.select_related("acknowledged_by")
    if filters.state != "all":
        alerts = alerts.filter(closed_at__isnull=filters.state == "open")
    if filters.operation is not None:
        alerts = alerts.filter(operation=filters.operation)
    if filters.kind is not None:
        alerts = alerts.filter(kind=filters.kind)
    return alerts.order_by("-created_at", "-id")


@router.get("/regressions", response={200: RegressionsOut, **errors_documented(404, 422)})
def regressions_read(request: HttpRequest, filters: Query[RegressionFilter]):
    """Each operation against threshold × its baseline, and each skill's newest version
    against the one before it (read only: alerts are raised by the scheduled check)."""
    _known(filters.operation)
    since, until = _window(filters.since, filters.until)
    try:
        threshold = threshold_checked(filters.threshold)
    except ThresholdInvalidError as error:
        raise _invalid("query", error.field, str(error)) from None
    operations = regressions_compute(
        operation=filters.operation,
        since=since,
        until=until,
        threshold=threshold,
        statistic=filters.statistic,
    )
    versions = version_regressions_compute(since=since, until=until, threshold=threshold)
    return {
        "since": since,
        "until": until,
        "threshold": threshold,
        "operations": [verdict.as_dict() for verdict in operations],
        "versions": [verdict.as_dict() for verdict in versions],
    }


@router.get("/budgets", response={200: list[BudgetOut], **errors_documented(422)})
@paginate(PageNumber, page_size=50)
def budgets_list(request: HttpRequest):
    return Budget.objects.order_by("operation")


# Writes (staff) ------------------------------------------------------------------------------


@router.put(
    "/budgets/{operation}",
    response={200: BudgetOut, **errors_documented(401, 403, 404, 422)},
    auth=SIGNED_IN,
)
def budget_update(request: HttpRequest, operation: str, payload: BudgetIn):
    """Set an operation's budget (seconds above 0, optionally which statistic it bounds)."""
    scope_require(request, "admin")
    staff_require(request, "change budgets, baselines and alerts")
    _known(operation)
    return budget_set(operation=operation, seconds=payload.seconds, statistic=payload.statistic)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response={200: AlertOut, **errors_documented(401, 403, 404, 422)},
    auth=SIGNED_IN,
)
def alert_acknowledge_endpoint(request: HttpRequest, alert_id: int):
    scope_require(request, "admin")
    staff_require(request, "change budgets, baselines and alerts")
    if not Alert.objects.filter(pk=alert_id).exists():
        raise ApiError(404, f"no alert {alert_id}", field="alert_id")
    return alert_acknowledge(alert_id=alert_id, user=request.user)


@router.post(
    "/baselines/{operation}",
    response={200: BaselineSetOut, **errors_documented(401, 403, 404, 422)},
    auth=SIGNED_IN,
)
def baseline_from_window(request: HttpRequest, operation: str, payload: BaselineWindowIn):
    """Make the samples of a window (default the last 24 h) the operation's baseline."""
    scope_require(request, "admin")
    staff_require(request, "change budgets, baselines and alerts")
    _known(operation)
    since, until = _window(payload.since, payload.until, location="body")
    try:
        return baseline_set_from_window(
            operation=operation,
            since=since,
            until=until,
            skill=payload.skill,
            version=payload.version,
        )
    except NoSamplesError as error:
        raise _invalid("body", "since", str(error)) from None
