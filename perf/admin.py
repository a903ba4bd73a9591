"""Perf in the admin: the dashboard page, budgets (editable in the list), baselines, alerts.

The dashboard's views are thin: they parse the request and call perf's domain functions
(perf.dashboard, perf.budgets, perf.alerts), the same ones the API and the commands call.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from perf.alerts import alert_acknowledge
from perf.analysis import operation_is_known
from perf.budgets import BudgetInvalidError, baselines_set_from_last_day, budget_set
from perf.dashboard import Overview, operation_chart, overview, resource_chart
from perf.models import STATISTICS, Alert, Baseline, Budget, Dashboard
from perf.windows import WindowError, window_parse

DEFAULT_SPAN = timedelta(hours=24)


def _is_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ("operation", "seconds", "statistic")

    def clean_seconds(self) -> float:
        seconds = self.cleaned_data["seconds"]
        if seconds is not None and not seconds > 0:
            raise forms.ValidationError(f"seconds: a budget must be above 0 seconds, not {seconds}")
        return seconds


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    form = BudgetForm
    list_display = ("operation", "seconds", "statistic", "updated_at")
    list_editable = ("seconds", "statistic")
    search_fields = ("operation",)

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        # The list's inline editing refuses a budget ≤ 0 as the change form does.
        return super().get_changelist_form(request, form=BudgetForm, **kwargs)


@admin.register(Baseline)
class BaselineAdmin(admin.ModelAdmin):
    list_display = ("operation", "skill", "version", "p50", "p95", "p99", "count", "source")
    list_filter = ("source",)
    search_fields = ("operation", "skill", "version")
    readonly_fields = ("set_at",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "severity",
        "operation",
        "subject",
        "message",
        "is_open",
        "acknowledged_by",
    )
    list_filter = ("kind", "severity", ("closed_at", admin.EmptyFieldListFilter))
    search_fields = ("operation", "subject", "message")
    actions = ("acknowledge",)
    readonly_fields = [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts are raised by the checks

    @admin.display(boolean=True, description="open")
    def is_open(self, alert: Alert) -> bool:
        return alert.is_open

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        alert_ids = list(queryset.values_list("pk", flat=True))
        for alert_id in alert_ids:
            alert_acknowledge(alert_id=alert_id, user=request.user)
        messages.success(request, f"Acknowledged {len(alert_ids)} alert(s).")


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The dashboard page, listed in the admin index under Performance (staff only)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return _is_staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.dashboard_view), name="perf_dashboard_changelist"),
            path("chart/operation/", view(self.operation_chart_view), name="perf_chart_operation"),
            path("chart/resources/", view(self.resource_chart_view), name="perf_chart_resources"),
            path("budgets/<str:operation>/", view(self.budget_view), name="perf_dashboard_budget"),
            path("baselines/", view(self.baselines_view), name="perf_dashboard_baselines"),
            path(
                "alerts/<int:alert_id>/acknowledge/",
                view(self.acknowledge_view),
                name="perf_dashboard_acknowledge",
            ),
        ]

    # Pages and chart data ----------------------------------------------------------------

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        status = 200
        try:
            since, until = _window(request)
        except WindowError as error:
            messages.error(request, f"{error.field}: {error}")
            status = 422
            since, until = window_parse(since=None, until=None, default_span=DEFAULT_SPAN)
        found = overview(since=since, until=until)
        context = {
            **self.admin_site.each_context(request),
            "title": "Performance dashboard",
            "opts": self.model._meta,
            "overview": found,
            "statistics": STATISTICS,
            "since_text": request.GET.get("since", "24h"),
            "until_text": request.GET.get("until", ""),
            # Measured operations, then the budgeted ones without a sample in the window.
            "operations": [r.summary.operation for r in found.operations]
            + [b.operation for b in found.unmeasured],
            "chart_operation": _chart_operation(found),
        }
        return TemplateResponse(request, "admin/perf/dashboard.html", context, status=status)

    def operation_chart_view(self, request: HttpRequest) -> JsonResponse:
        operation = request.GET.get("operation", "")
        if not operation:
            return _invalid("operation", "name an operation")
        if not operation_is_known(operation):
            return JsonResponse({"detail": f"unknown operation {operation!r}"}, status=404)
        try:
            since, until = _window(request)
        except WindowError as error:
            return _invalid(error.field, str(error))
        return JsonResponse(operation_chart(operation=operation, since=since, until=until))

    def resource_chart_view(self, request: HttpRequest) -> JsonResponse:
        try:
            since, until = _window(request)
        except WindowError as error:
            return _invalid(error.field, str(error))
        return JsonResponse(resource_chart(since=since, until=until))

    # Actions ---------------------------------------------------------------------------

    @staticmethod
    @require_POST
    def budget_view(request: HttpRequest, operation: str) -> HttpResponse:
        if not operation_is_known(operation):
            raise Http404(f"unknown operation {operation!r}")
        # Edited in ms, as the percentiles beside the field are printed; kept in seconds.
        text = request.POST.get("milliseconds", "").strip()
        statistic = request.POST.get("statistic") or None
        try:
            milliseconds = float(text)
        except ValueError:
            messages.error(request, f"milliseconds: {text!r} is not a number of milliseconds")
            return _back(request)
        try:
            budget = budget_set(
                operation=operation, seconds=milliseconds / 1000, statistic=statistic
            )
        except BudgetInvalidError as error:
            field = "milliseconds" if error.field == "seconds" else error.field
            messages.error(request, f"{field}: {error} (the {operation} budget is unchanged)")
            return _back(request)
        messages.success(request, f"Budget set: {budget}.")
        return _back(request)

    @staticmethod
    @require_POST
    def baselines_view(request: HttpRequest) -> HttpResponse:
        baselines = baselines_set_from_last_day()
        if baselines:
            names = ", ".join(baseline.operation for baseline in baselines)
            messages.success(
                request, f"Set {len(baselines)} baseline(s) from the last 24 h: {names}."
            )
        else:
            messages.warning(request, "No sample in the last 24 h: no baseline was set.")
        return _back(request)

    @staticmethod
    @require_POST
    def acknowledge_view(request: HttpRequest, alert_id: int) -> HttpResponse:
        if not Alert.objects.filter(pk=alert_id).exists():
            raise Http404(f"no alert {alert_id}")
        alert = alert_acknowledge(alert_id=alert_id, user=request.user)
        messages.success(request, f"Acknowledged: {alert.message}")
        return _back(request)


def _chart_operation(found: Overview) -> str:
    """The chart opens on the operation in worst shape: over budget or regressed, else the
    busiest."""
    reports = sorted(
        found.operations, key=lambda r: (r.verdict == "ok", -r.summary.count, r.summary.operation)
    )
    return reports[0].summary.operation if reports else ""


def _window(request: HttpRequest):
    return window_parse(
        since=request.GET.get("since"), until=request.GET.get("until"), default_span=DEFAULT_SPAN
    )


def _invalid(field: str, message: str) -> JsonResponse:
    detail = [{"loc": ["query", field], "msg": message, "type": "value_error"}]
    return JsonResponse({"detail": detail}, status=422)


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the dashboard page the form was posted from (same host only)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("admin:perf_dashboard_changelist")
    return redirect(target)
