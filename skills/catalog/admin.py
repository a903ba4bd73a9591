"""The catalog in the admin: browse, approve, deprecate, import and export skills."""

import io
import json
from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from skills.catalog.bundles import bundle_export, sources_from_uploads
from skills.catalog.importer import ImportRefused, skills_import
from skills.catalog.transitions import skills_bulk_transition
from skills.models import (
    Agent,
    AgentSkill,
    RejectedSkillFile,
    Skill,
    SkillHistory,
    SkillRun,
    SkillVersion,
)
from skills.runs.errors import InvalidParams, RunError
from skills.runs.forms import TryForm
from skills.runs.plan import params_example
from skills.runs.records import skill_run_start


class SkillVersionInline(admin.TabularInline):
    model = SkillVersion
    fields = (
        "version",
        "content_hash_short",
        "requirements",
        "entrypoint",
        "timeout",
        "created_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at",)

    @admin.display(description="content hash")
    def content_hash_short(self, version: SkillVersion) -> str:
        return version.content_hash[:12]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class SkillHistoryInline(admin.TabularInline):
    model = SkillHistory
    fields = ("created_at", "action", "version", "actor", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("version", "actor")


class AgentMappingInline(admin.TabularInline):
    model = AgentSkill
    extra = 0
    autocomplete_fields = ("skill",)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return super().clean(data, initial)


class ImportForm(forms.Form):
    files = MultipleFileField(
        widget=MultipleFileInput(),
        help_text="Skill files (.py, .js, .mjs) or bundles (.zip). All are imported or none.",
    )
    approve = forms.BooleanField(required=False, help_text="Approve what is imported.")


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "current_version_label",
        "category",
        "type",
        "language",
        "status",
        "has_error",
        "updated_at",
    )
    list_filter = ("status", "category", "type", "language")
    search_fields = ("slug", "description", "category")
    list_select_related = ("current_version",)
    # What a skill is comes from its file, and status changes go through the actions (which
    # record who and when): nothing here is edited by hand.
    readonly_fields = (
        "slug",
        "status",
        "category",
        "type",
        "description",
        "tags",
        "current_version",
        "content_hash",
        "language",
        "source_path",
        "last_error_box",
        "last_error_at",
        "approved_by",
        "approved_at",
        "install_count",
        "run_count",
        "created_at",
        "updated_at",
    )
    fields = (
        ("slug", "status"),
        ("category", "type", "language"),
        "description",
        "tags",
        ("current_version", "content_hash"),
        "source_path",
        ("last_error_box", "last_error_at"),
        ("approved_by", "approved_at"),
        ("install_count", "run_count"),
        ("created_at", "updated_at"),
    )
    inlines = (SkillVersionInline, SkillHistoryInline)
    actions = ("approve_selected", "deprecate_selected", "export_selected")
    change_list_template = "admin/skills/skill/change_list.html"
    change_form_template = "admin/skills/skill/change_form.html"

    @admin.display(description="version", ordering="current_version__version")
    def current_version_label(self, skill: Skill) -> str:
        return skill.current_version.version if skill.current_version else "—"

    @admin.display(description="error")
    def has_error(self, skill: Skill) -> str:
        # Marked only where something is wrong: the admin's boolean icons would put a red ✗
        # beside every healthy skill (False) under this heading.
        if not skill.last_error:
            return ""
        return format_html(
            '<span class="skill-error" style="color:#ba2121" title="{}">✗ error</span>',
            skill.last_error.splitlines()[0][:200],
        )

    @admin.display(description="last error")
    def last_error_box(self, skill: Skill) -> str:
        if not skill.last_error:
            return "—"
        return format_html(
            '<pre style="color:#ba2121;white-space:pre-wrap">{}</pre>', skill.last_error
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # skills come from files: use "Import skills"

    @admin.action(description="Approve selected skills", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Skill]) -> None:
        changed, skipped = skills_bulk_transition(
            skills=list(queryset), actor=request.user, approve=True
        )
        self.message_user(request, f"{changed} approved, {skipped} already approved.")

    @admin.action(description="Deprecate selected skills", permissions=["change"])
    def deprecate_selected(self, request: HttpRequest, queryset: QuerySet[Skill]) -> None:
        changed, skipped = skills_bulk_transition(
            skills=list(queryset), actor=request.user, approve=False
        )
        self.message_user(request, f"{changed} deprecated, {skipped} already deprecated.")

    @admin.action(description="Export selected skills as a bundle")
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Skill]) -> HttpResponse:
        buffer = io.BytesIO()
        bundle_export(queryset.select_related("current_version"), buffer)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="atom-skills-{stamp}.zip"'
        return response

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="skills_skill_import",
            ),
            path(
                "<path:object_id>/try/",
                self.admin_site.admin_view(self.try_view),
                name="skills_skill_try",
            ),
            *super().get_urls(),
        ]

    def try_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Run the skill with params typed in the admin, through the API's domain function."""
        skill = self.get_object(request, object_id)
        if skill is None or not self.has_change_permission(request, skill):
            messages.error(request, "You may not run this skill.")
            return redirect(reverse("admin:skills_skill_changelist"))
        version = skill.current_version
        example = params_example(version)
        form = TryForm(request.POST or None, initial={"params": example})
        run = None
        if request.method == "POST" and form.is_valid():
            run = self._try_run(request, skill, form)
            if run is not None and run.is_queued:
                # Its own address, so the page that follows it can reload onto the outcome.
                return redirect(f"{request.path}?run={run.pk}")
        elif request.GET.get("run", "").isdigit():
            run = SkillRun.objects.filter(pk=int(request.GET["run"]), skill=skill).first()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Try {skill.slug}",
            "skill": skill,
            "version": version,
            "form": form,
            "run": run,
            "result_json": json.dumps(run.result, indent=2) if run and run.is_finished else "",
            "opts": self.model._meta,
            "original": skill,
        }
        return TemplateResponse(request, "admin/skills/skill/try.html", context)

    def _try_run(self, request: HttpRequest, skill: Skill, form: TryForm) -> SkillRun | None:
        try:
            run = skill_run_start(
                skill=skill,
                params=form.cleaned_data["params"],
                user=request.user,
                timeout=form.cleaned_data["timeout"],
            )
        except InvalidParams as invalid:
            field = invalid.params_field
            form.add_error("params", f"{field}: {invalid.message}")
            messages.error(request, f"Not run: {field}: {invalid.message}")
            return None
        except RunError as refused:
            messages.error(request, f"Not run: {refused}")
            return None
        if run.is_queued:
            link = reverse("admin:skills_skillrun_change", args=[run.pk])
            messages.info(
                request,
                format_html(
                    'Queued as <a href="{}">run {}</a> (a worker carries it out).', link, run.pk
                ),
            )
        return run

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            messages.error(request, "You may not import skills.")
            return redirect(reverse("admin:skills_skill_changelist"))
        form = ImportForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            errors = self._import_uploads(request, form)
            if not errors:
                return redirect(reverse("admin:skills_skill_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import skills",
            "form": form,
            "errors": errors,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/skills/skill/import.html", context)

    def _import_uploads(self, request: HttpRequest, form: ImportForm) -> list:
        sources, errors = sources_from_uploads(request.FILES.getlist("files"))
        try:
            report = skills_import(
                sources=sources,
                errors=errors,
                actor=request.user,
                approve=form.cleaned_data["approve"],
            )
        except ImportRefused as refused:
            messages.error(request, f"Nothing imported: {len(refused.errors)} error(s).")
            return refused.errors
        messages.success(request, f"Imported {len(sources)} file(s): {report.summary()}.")
        return []


@admin.register(RejectedSkillFile)
class RejectedSkillFileAdmin(admin.ModelAdmin):
    """New files in the watched folder the catalog refused; gone once the file is fixed."""

    list_display = ("path", "error", "seen_at")
    search_fields = ("path", "message")
    readonly_fields = ("path", "message", "seen_at")

    @admin.display(description="error")
    def error(self, rejected: RejectedSkillFile) -> str:
        return rejected.message.splitlines()[0] if rejected.message else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recorded by the watcher

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SkillVersion)
class SkillVersionAdmin(admin.ModelAdmin):
    list_display = ("skill", "version", "content_hash", "created_at")
    list_select_related = ("skill",)
    search_fields = ("skill__slug", "version", "content_hash")
    readonly_fields = [field.name for field in SkillVersion._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # versions are immutable


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "kind", "skill_count")
    list_filter = ("kind",)
    search_fields = ("slug", "name")
    inlines = (AgentMappingInline,)

    @admin.display(description="skills")
    def skill_count(self, agent: Agent) -> int:
        return agent.mappings.count()
