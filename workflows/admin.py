"""Workflows in the admin: a JSON definition editor validated on save (every error shown, per
step), the versions inline, and the analysis on the change page with the DAG drawn as SVG;
runs with their steps inline, filters, and actions to run, cancel and retry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from workflows.analysis import workflow_analyze
from workflows.drawing import dag_svg
from workflows.engine import run_cancel, run_retry, run_start
from workflows.errors import DefinitionInvalid, StepErrors, WorkflowError, errors_by_step
from workflows.models import StepRun, Workflow, WorkflowRun, WorkflowVersion
from workflows.services import validated_save
from workflows.validation import ValidatedWorkflow, definition_validate


class WorkflowForm(forms.ModelForm):
    definition = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 30, "cols": 110, "style": "font-family: monospace"}),
        help_text="The workflow definition as JSON (docs/workflows.md). Saving validates it; "
        "a changed definition becomes a new version.",
    )

    class Meta:
        model = Workflow
        fields = ["status"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validated: ValidatedWorkflow | None = None
        if self.instance.pk and self.instance.current_version_id:
            self.fields["definition"].initial = self.instance.current_version.definition

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "definition" not in cleaned:
            return cleaned
        try:
            self.validated = definition_validate(definition=cleaned["definition"])
        except DefinitionInvalid as invalid:
            self.add_error("definition", [_step_errors_html(group)
                                          for group in errors_by_step(invalid.errors)])  # fmt: skip
            return cleaned
        slug = self.validated.definition.slug
        if self.instance.pk and slug != self.instance.slug:
            message = (
                f"slug: this is workflow {self.instance.slug!r}; the definition names {slug!r}"
            )
            self.add_error("definition", message)
        elif not self.instance.pk and Workflow.objects.filter(slug=slug).exists():
            message = f"slug: a workflow {slug!r} exists; change that one, or choose another name"
            self.add_error("definition", message)
        return cleaned


def _step_errors_html(group: StepErrors) -> SafeString:
    """One step's errors under its id (the form's error list shows one item per step)."""
    return format_html(
        '<span class="workflow-step-errors"><strong>{}</strong><ul>{}</ul></span>',
        group.title,
        format_html_join("", "<li>{}</li>", ((error.where_in_step(),) for error in group.errors)),
    )


class WorkflowVersionInline(admin.TabularInline):
    model = WorkflowVersion
    fields = ("version", "content_hash", "step_count", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Workflow | None = None) -> bool:
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowForm
    list_display = ("slug", "name", "current_version", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("slug", "name", "description")
    readonly_fields = ("name", "slug", "description", "current_version", "source_path", "analysis")
    inlines = [WorkflowVersionInline]
    actions = ["run_selected"]

    @admin.action(description="Run the selected workflows (inputs: their defaults)")
    def run_selected(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset.select_related("current_version"):
            try:
                run = run_start(workflow, {}, requested_by=request.user)
            except WorkflowError as refused:
                self.message_user(request, f"{workflow.slug}: {refused.message}", messages.ERROR)
            else:
                self.message_user(request, f"{workflow.slug}: run {run.pk} started")

    def get_fields(self, request: HttpRequest, obj: Workflow | None = None) -> list[str]:
        if obj is None:
            return ["definition", "status"]
        return [*self.readonly_fields[:5], "status", "definition", "analysis"]

    def get_readonly_fields(self, request: HttpRequest, obj: Workflow | None = None):
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Workflow, form: WorkflowForm, change: bool):
        outcome = validated_save(validated=form.validated, actor=request.user)
        status = form.cleaned_data.get("status")
        if status and outcome.workflow.status != status:
            Workflow.objects.filter(pk=outcome.workflow.pk).update(status=status)
        obj.pk = outcome.workflow.pk
        obj.refresh_from_db()

    @admin.display(description="Analysis")
    def analysis(self, obj: Workflow) -> SafeString | str:
        if obj.pk is None or obj.current_version is None:
            return "-"
        try:
            validated = definition_validate(definition=obj.current_version.definition)
        except DefinitionInvalid as invalid:
            return format_html(
                "<p>This version does not validate against today's catalog:</p><ul>{}</ul>",
                format_html_join(
                    "",
                    "<li>{}</li>",
                    ((_step_errors_html(group),) for group in errors_by_step(invalid.errors)),
                ),
            )
        analysis = workflow_analyze(validated=validated)
        estimate = analysis.estimate
        labels = [f.slug if f else "" for f in validated.skills]
        generations = format_html_join(
            "", "<li>{}</li>", ((", ".join(generation),) for generation in analysis.generations)
        )
        environments = format_html_join(
            "",
            "<li>{} ({}): steps {}; build {}</li>",
            (
                (
                    need.key[:12],
                    need.status,
                    ", ".join(need.steps),
                    _seconds(need.estimated_build_seconds, need.estimate_source),
                )
                for need in analysis.environments
            ),
        )
        conflicts = format_html_join(
            "",
            "<li>{}: {}</li>",
            (
                (
                    conflict.package,
                    "; ".join(
                        f"{r['skill']} (steps {', '.join(r['steps'])}) asks for {r['specifier']}"
                        for r in conflict.requests
                    ),
                )
                for conflict in analysis.conflicts
            ),
        )
        return format_html(
            '<div class="workflow-analysis"><p>Depth {}, width {}.</p>'
            "<p><strong>Critical path:</strong> {}</p>"
            "<p><strong>Estimate:</strong> p50 {}, p95 {} ({})</p>"
            "<p><strong>Generations</strong> (steps that can run in parallel):</p><ol>{}</ol>"
            "<p><strong>Environments to build:</strong></p><ul>{}</ul>"
            "<p><strong>Conflicts:</strong></p><ul>{}</ul>{}</div>",
            analysis.depth,
            analysis.width,
            " → ".join(analysis.critical_path),
            _seconds(estimate["p50_seconds"]),
            _seconds(estimate["p95_seconds"]),
            estimate["note"],
            generations,
            environments or mark_safe("<li>none</li>"),
            conflicts or mark_safe("<li>none</li>"),
            # dag_svg escapes every label it draws.
            mark_safe(  # noqa: S308
                dag_svg(graph=validated.graph, labels=labels, critical_path=analysis.critical_path)
            ),
        )


def _seconds(value: float | None, source: str = "") -> str:
    if value is None:
        return "no data"
    text = f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    return f"{text} ({source})" if source else text


class StepRunInline(admin.TabularInline):
    model = StepRun
    fields = (
        "step_id",
        "skill",
        "status",
        "attempts",
        "duration",
        "is_cached",
        "output_preview",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("index",)

    def has_add_permission(self, request: HttpRequest, obj: WorkflowRun | None = None) -> bool:
        return False

    @admin.display(description="Attempts")
    def attempts(self, step: StepRun) -> str:
        return f"{step.attempt} / {step.max_attempts}"

    @admin.display(description="Duration")
    def duration(self, step: StepRun) -> str:
        return "-" if step.wall_seconds is None else _seconds(step.wall_seconds)

    @admin.display(description="Error")
    def error(self, step: StepRun) -> str:
        return f"{step.error_type}: {step.error_message}" if step.error_type else ""


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = ("id", "workflow", "status", "is_cached", "requested_by", "created_at",
                    "duration")  # fmt: skip
    list_filter = ("status", "workflow", "created_at")
    list_select_related = ("workflow", "requested_by")
    date_hierarchy = "created_at"
    readonly_fields = (
        "live_page",
        "workflow",
        "version",
        "status",
        "inputs",
        "requested_by",
        "agent",
        "is_cached",
        "timeout_seconds",
        "on_failure",
        "retry_of",
        "error_type",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
    )
    fields = readonly_fields
    inlines = [StepRunInline]
    actions = ["cancel_selected", "retry_selected", "run_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Duration")
    def duration(self, run: WorkflowRun) -> str:
        return "-" if run.duration_seconds is None else _seconds(run.duration_seconds)

    @admin.display(description="Live page")
    def live_page(self, run: WorkflowRun) -> SafeString:
        return format_html(
            '<a href="{}" id="run-live-page">Follow run {} live: its DAG, steps and logs</a>',
            run.page_url,
            run.pk,
        )

    def _each(self, request: HttpRequest, queryset: QuerySet[WorkflowRun], action, done: str):
        for run in queryset.select_related("workflow"):
            try:
                action(run)
            except WorkflowError as refused:
                self.message_user(request, f"run {run.pk}: {refused.message}", messages.ERROR)
            else:
                self.message_user(request, f"run {run.pk}: {done}")

    @admin.action(description="Cancel the selected runs")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        self._each(request, queryset, lambda run: run_cancel(run=run), "cancelled")

    @admin.action(description="Retry the selected runs from their failed steps")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        self._each(request, queryset, lambda run: run_retry(run=run), "retried")

    @admin.action(description="Run again with the same inputs")
    def run_again(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        self._each(
            request,
            queryset,
            lambda run: run_start(run.workflow, run.inputs, requested_by=request.user),
            "started again",
        )
