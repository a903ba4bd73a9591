"""Runs of skills asked for through the API, the admin's "try it" form and notebooks."""

from django.conf import settings
from django.db import models

from skills.models.catalog import Agent, Skill, SkillVersion


class SkillRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SkillRun(models.Model):
    """One call of one skill version: who asked, with what, and what came back.

    ``failed`` covers both a skill that ran and failed (its exception, a limit) and a run the
    host could not carry out (its environment failed to build); ``error_stage`` tells them
    apart (``run``/``load`` for the skill, ``runner`` for a limit, ``host`` for the host).
    """

    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(SkillVersion, on_delete=models.CASCADE, related_name="runs")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    is_queued = models.BooleanField(default=False, help_text="Run by a worker, not in-request.")
    timeout = models.FloatField(help_text="Seconds, after the cap.")
    status = models.CharField(
        max_length=16,
        choices=SkillRunStatus.choices,
        default=SkillRunStatus.QUEUED,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    error_stage = models.CharField(max_length=16, blank=True)
    stdout = models.TextField(blank=True, help_text="The first bytes of what the skill printed.")
    stdout_bytes = models.PositiveBigIntegerField(default=0)
    stderr = models.TextField(blank=True)
    stderr_bytes = models.PositiveBigIntegerField(default=0)
    cache = models.CharField(max_length=16, blank=True, help_text="hit, loaded or reloaded.")
    load_seconds = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    peak_rss_kb = models.PositiveBigIntegerField(null=True, blank=True)
    cpu_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="CPU time of the call, every process it started together; empty where no "
        "control group counts it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["skill", "created_at"], name="skillrun_skill_created")]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.skill.slug} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (SkillRunStatus.SUCCEEDED, SkillRunStatus.FAILED)

    @property
    def error(self) -> dict[str, str] | None:
        if not self.error_type:
            return None
        return {
            "type": self.error_type,
            "message": self.error_message,
            "traceback": self.error_traceback,
            "stage": self.error_stage,
        }
