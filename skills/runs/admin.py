"""Recorded runs in the admin (read only: a run is made by running a skill)."""

from django.contrib import admin
from django.http import HttpRequest

from skills.models import SkillRun


@admin.register(SkillRun)
class SkillRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "skill",
        "version",
        "status",
        "is_queued",
        "requested_by",
        "agent",
        "wall_seconds",
        "created_at",
    )
    list_filter = ("status", "is_queued")
    list_select_related = ("skill", "version", "requested_by", "agent")
    search_fields = ("skill__slug", "error_type")
    readonly_fields = [field.name for field in SkillRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are made by running a skill

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
