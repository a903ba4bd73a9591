"""Admin for environments and install jobs: status, sizes, uses, lockfiles and logs; actions to
rebuild, delete (files too) and retry; the install slots in use. Registered when `skills.admin`
imports this module."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from skills.installer.jobs import environment_rebuild, install_job_retry
from skills.installer.maintenance import EnvironmentInUse, environment_delete
from skills.models import Environment, InstallJob, InstallJobStatus, InstallSlot


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 1_048_576:.1f} MB" if size >= 1_048_576 else f"{size / 1024:.0f} KB"


class InstallJobInline(admin.TabularInline):
    model = InstallJob
    fields = ("id", "status", "cache_hit", "agent", "created_at", "total_seconds", "error")
    readonly_fields = fields
    extra = 0
    max_num = 0
    show_change_link = True
    ordering = ("-created_at",)


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = (
        "short_key",
        "backend",
        "status",
        "requirements_text",
        "size",
        "build_seconds_text",
        "use_count",
        "last_used_at",
    )
    list_filter = ("status", "backend", "language")
    search_fields = ("key", "location")
    ordering = ("-last_used_at", "-created_at")
    actions = ("rebuild_selected", "delete_selected_with_files")
    inlines = (InstallJobInline,)
    readonly_fields = (
        "key",
        "language",
        "backend",
        "requirements",
        "interpreter",
        "platform",
        "policy_version",
        "status",
        "location",
        "size",
        "build_seconds",
        "build_count",
        "error",
        "build_host",
        "build_pid",
        "build_heartbeat_at",
        "created_at",
        "ready_at",
        "last_used_at",
        "use_count",
        "lockfile_view",
    )
    exclude = ("lockfile", "build_token", "size_bytes")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting goes through our action, which removes the files and refuses busy ones
        # (without delete permission Django also drops its own bulk delete action).
        return False

    @admin.display(description="key", ordering="key")
    def short_key(self, environment: Environment) -> str:
        return environment.key[:12]

    @admin.display(description="requirements")
    def requirements_text(self, environment: Environment) -> str:
        return ", ".join(environment.requirements) or "-"

    @admin.display(description="size", ordering="size_bytes")
    def size(self, environment: Environment) -> str:
        return _size(environment.size_bytes)

    @admin.display(description="build time", ordering="build_seconds")
    def build_seconds_text(self, environment: Environment) -> str:
        return "-" if environment.build_seconds is None else f"{environment.build_seconds:.2f} s"

    @admin.display(description="lockfile")
    def lockfile_view(self, environment: Environment) -> str:
        return format_html(
            "<pre style='max-height:30em;overflow:auto'>{}</pre>", environment.lockfile
        )

    @admin.action(description="Rebuild the selected environments")
    def rebuild_selected(self, request: HttpRequest, queryset: QuerySet[Environment]) -> None:
        for environment in queryset:
            job = environment_rebuild(environment_pk=environment.pk)
            self.message_user(request, f"{environment.key[:12]}: rebuild queued as job {job.pk}")

    @admin.action(description="Delete the selected environments and their files")
    def delete_selected_with_files(
        self, request: HttpRequest, queryset: QuerySet[Environment]
    ) -> None:
        for environment in queryset:
            try:
                freed = environment_delete(environment_pk=environment.pk)
            except EnvironmentInUse as refused:
                self.message_user(request, str(refused), level=messages.WARNING)
            else:
                self.message_user(request, f"{environment.key[:12]}: deleted, {_size(freed)} freed")


@admin.register(InstallJob)
class InstallJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "cache_hit",
        "environment_key",
        "skills_text",
        "agent",
        "created_at",
        "total_seconds",
    )
    list_filter = ("status", "cache_hit", "environment__backend")
    search_fields = ("environment__key", "skills__slug", "error")
    list_select_related = ("environment", "agent")
    actions = ("retry_selected",)
    readonly_fields = (
        "batch",
        "environment",
        "skills_text",
        "agent",
        "status",
        "cache_hit",
        "attempts",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "resolve_seconds",
        "install_seconds",
        "verify_seconds",
        "total_seconds",
        "log_view",
    )
    exclude = ("skills", "skill_versions")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="environment", ordering="environment__key")
    def environment_key(self, job: InstallJob) -> str:
        return job.environment.key[:12]

    @admin.display(description="skills")
    def skills_text(self, job: InstallJob) -> str:
        return ", ".join(job.skills.values_list("slug", flat=True)) or "-"

    @admin.display(description="log")
    def log_view(self, job: InstallJob) -> str:
        lines = "\n".join(job.log_lines.values_list("text", flat=True))
        return format_html("<pre style='max-height:40em;overflow:auto'>{}</pre>", lines)

    @admin.action(description="Retry the selected failed jobs")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[InstallJob]) -> None:
        for job in queryset.filter(status=InstallJobStatus.FAILED):
            install_job_retry(job_pk=job.pk)
            self.message_user(request, f"job {job.pk} queued again")


@admin.register(InstallSlot)
class InstallSlotAdmin(admin.ModelAdmin):
    """What is being built right now across the cluster (read-only: a dead holder's slot is
    taken over by the next build)."""

    list_display = (
        "number",
        "held",
        "environment_key",
        "host",
        "pid",
        "claimed_at",
        "heartbeat_at",
    )
    readonly_fields = list_display

    @admin.display(boolean=True)
    def held(self, slot: InstallSlot) -> bool:
        return slot.is_held

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
