"""Timing samples and what is derived from them: budgets, baselines, alerts, rollups."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

STATISTICS: tuple[str, ...] = ("p50", "p95", "p99")
STATISTIC_CHOICES = [(name, name) for name in STATISTICS]


class Sample(models.Model):
    """One measured call of an operation. Written in batches by `perf.recording`."""

    operation = models.CharField(max_length=64)
    duration = models.FloatField(help_text="seconds")
    ok = models.BooleanField(default=True)
    error = models.CharField(max_length=200, blank=True, default="")
    skill = models.CharField(max_length=200, blank=True, default="")
    version = models.CharField(max_length=64, blank=True, default="")
    environment_key = models.CharField(max_length=128, blank=True, default="")
    workflow = models.CharField(max_length=200, blank=True, default="")
    step = models.CharField(max_length=200, blank=True, default="")
    agent = models.CharField(max_length=200, blank=True, default="")
    host = models.CharField(max_length=200, blank=True, default="")
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["operation", "created_at"], name="perf_sample_op_created"),
            models.Index(fields=["created_at"], name="perf_sample_created"),
            # Rows come out of an index-only scan already grouped and sorted for the
            # percentiles: no sort of the whole table (see perf/analysis.py).
            models.Index(
                fields=["operation", "duration", "ok", "created_at"],
                name="perf_sample_op_duration",
            ),
            models.Index(
                fields=["skill", "version", "operation"],
                name="perf_sample_skill_version",
                condition=~Q(skill=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.duration * 1000:.3f} ms"


class Budget(models.Model):
    """The most an operation may take (its chosen statistic), in seconds."""

    operation = models.CharField(max_length=64, unique=True)
    seconds = models.FloatField(help_text="seconds; must be above 0")
    statistic = models.CharField(max_length=3, choices=STATISTIC_CHOICES, default="p95")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["operation"]
        constraints = [
            models.CheckConstraint(condition=Q(seconds__gt=0), name="perf_budget_seconds_positive")
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.statistic} ≤ {self.seconds:g} s"


class Baseline(models.Model):
    """What an operation (optionally one skill version) normally takes."""

    class Source(models.TextChoices):
        WINDOW = "window", "samples of a time window"
        BENCHMARK = "benchmark", "benchmark run"
        MANUAL = "manual", "set by hand"

    operation = models.CharField(max_length=64)
    skill = models.CharField(max_length=200, blank=True, default="")
    version = models.CharField(max_length=64, blank=True, default="")
    p50 = models.FloatField()
    p95 = models.FloatField()
    p99 = models.FloatField()
    count = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WINDOW)
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["operation", "skill", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "skill", "version"], name="perf_baseline_one_per_subject"
            ),
            models.CheckConstraint(
                condition=Q(p50__gte=0) & Q(p95__gte=0) & Q(p99__gte=0),
                name="perf_baseline_not_negative",
            ),
        ]

    def __str__(self) -> str:
        subject = f" {self.skill}@{self.version}" if self.skill else ""
        return f"{self.operation}{subject} p99 {self.p99:g} s"

    def statistic(self, name: str) -> float:
        return getattr(self, name)


class Alert(models.Model):
    """A breach; at most one open alert per (kind, operation, subject)."""

    class Kind(models.TextChoices):
        REGRESSION = "regression", "regression against the baseline"
        BUDGET = "budget", "over budget"
        VERSION = "version", "a skill version regressed"
        RESOURCE = "resource", "resource usage"

    class Severity(models.TextChoices):
        WARNING = "warning", "warning"
        CRITICAL = "critical", "critical"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    operation = models.CharField(max_length=64)
    subject = models.CharField(max_length=200, blank=True, default="")
    severity = models.CharField(max_length=8, choices=Severity.choices)
    message = models.TextField()
    observed = models.FloatField()
    threshold = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["closed_at", "created_at"], name="perf_alert_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "operation", "subject"],
                condition=Q(closed_at__isnull=True),
                name="perf_alert_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class ResourceSample(models.Model):
    """Host resources at one instant, with rates since the host's previous sample."""

    host = models.CharField(max_length=200)
    cpu_percent = models.FloatField()
    memory_percent = models.FloatField()
    disk_read_bytes = models.BigIntegerField(help_text="cumulative counter")
    disk_write_bytes = models.BigIntegerField(help_text="cumulative counter")
    disk_read_rate = models.FloatField(default=0, help_text="bytes/s")
    disk_write_rate = models.FloatField(default=0, help_text="bytes/s")
    open_files = models.PositiveIntegerField(default=0)
    load_1 = models.FloatField(default=0)
    queue_length = models.PositiveIntegerField(default=0)
    running_tasks = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["host", "created_at"], name="perf_resource_host_created")]

    def __str__(self) -> str:
        return f"{self.host} cpu {self.cpu_percent:.0f}% mem {self.memory_percent:.0f}%"


class HourlyRollup(models.Model):
    """One operation's samples of one hour, kept after the raw samples are pruned."""

    operation = models.CharField(max_length=64)
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()
    error_count = models.PositiveIntegerField()
    total = models.FloatField(help_text="sum of durations, seconds")
    minimum = models.FloatField()
    maximum = models.FloatField()
    p50 = models.FloatField()
    p95 = models.FloatField()
    p99 = models.FloatField()

    class Meta:
        ordering = ["operation", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "hour"], name="perf_rollup_one_per_hour")
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.hour:%Y-%m-%d %H}:00 ×{self.count}"

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0


class Dashboard(Sample):
    """No table of its own: the admin's entry for the perf dashboard page (perf/admin.py)."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
        default_permissions = ()
