"""Workflow definitions, their immutable versions, and their runs (one row per step)."""

import json

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


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


RUN_FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its dependencies
    QUEUED = "queued", "Queued"  # ready: a task (or a worker continuing inline) will claim it
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # its condition did not hold, or an upstream step failed
    CANCELLED = "cancelled", "Cancelled"


STEP_FINISHED = (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED)


class WorkflowRun(models.Model):
    """One run of one workflow version: its inputs, who asked, its state and timings.

    The engine (`workflows.engine`) is the only writer of `status`, always through conditional
    updates, so two workers never both finish a run."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="runs")
    inputs = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        "skills.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    timeout_seconds = models.FloatField(null=True, blank=True, help_text="The whole run's limit.")
    on_failure = models.CharField(max_length=16, default="stop")
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    cache_key = models.CharField(max_length=64, blank=True, db_index=True)
    is_cached = models.BooleanField(default=False, help_text="Every output reused from a run.")
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workflow", "created_at"], name="wfrun_workflow_created")]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow.slug} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in RUN_FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def ws_url(self) -> str:
        return f"/ws/runs/{self.pk}/"

    @property
    def page_url(self) -> str:
        return f"/runs/{self.pk}/"

    @property
    def events_url(self) -> str:
        return f"/api/workflow-runs/{self.pk}/events"


class StepRun(models.Model):
    """One step of one run. `remaining_dependencies` counts the parents still to finish: the
    parent whose release brings it to zero moves it from pending to queued (one conditional
    UPDATE decides), and a task or a worker continuing inline claims it queued → running."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=100)
    index = models.PositiveIntegerField(help_text="Its position in the definition's steps.")
    skill = models.ForeignKey("skills.Skill", on_delete=models.CASCADE, related_name="+")
    skill_version = models.ForeignKey(
        "skills.SkillVersion", on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING, db_index=True
    )
    remaining_dependencies = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=0, help_text="Attempts started.")
    max_attempts = models.PositiveIntegerField(default=1, help_text="1 + the step's retries.")
    timeout_seconds = models.FloatField(help_text="As the runtime enforces it.")
    params = models.JSONField(null=True, blank=True, help_text="As resolved for the last attempt.")
    output = models.JSONField(null=True, blank=True)
    output_bytes = models.PositiveIntegerField(null=True, blank=True)
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    is_cached = models.BooleanField(default=False, help_text="The output was reused.")
    cache_key = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="host:pid of the claimer.")
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True, help_text="The skill's own.")

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step_id"], name="steprun_run_step_unique")
        ]
        indexes = [
            models.Index(fields=["run", "status"], name="steprun_run_status"),
            models.Index(fields=["cache_key", "finished_at"], name="steprun_cache"),
            models.Index(fields=["status", "heartbeat_at"], name="steprun_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} of run {self.run_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in STEP_FINISHED

    @property
    def wall_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def output_preview(self) -> str:
        if self.output is None:
            return ""
        text = json.dumps(self.output, ensure_ascii=False)
        return text if len(text) <= 200 else text[:200] + "…"
