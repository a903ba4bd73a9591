"""Workflow definitions and their immutable versions (the engine's runs come in the next part)."""

from django.conf import settings
from django.db import models


class WorkflowStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class Workflow(models.Model):
    """A named DAG of skill steps; its definition lives in its versions."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.ACTIVE, db_index=True
    )
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_path = models.CharField(
        max_length=1024, blank=True, help_text="The file this workflow was last imported from."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class WorkflowVersion(models.Model):
    """One immutable definition of a workflow. A run keeps the version it ran."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=64)
    definition = models.JSONField()
    inputs_schema = models.JSONField(default=dict, blank=True)
    step_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["workflow", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "content_hash"], name="workflow_version_hash_unique"
            ),
            models.UniqueConstraint(fields=["workflow", "version"], name="workflow_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.slug} {self.version}"
