"""Installed environments (one per environment key) and the install jobs that ask for them."""

from pathlib import Path

from django.db import models

from skills.models.catalog import Agent, Skill, SkillLanguage, SkillVersion


class EnvironmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class EnvironmentBackend(models.TextChoices):
    UV = "uv", "uv"
    PIP = "pip", "pip"
    NPM = "npm", "npm"
    DOCKER = "docker", "Docker"


class Environment(models.Model):
    """The packages of one requirement set, built once and shared by every skill that asks
    for exactly that set (see `skills.installer.keys.environment_key`)."""

    key = models.CharField(max_length=64, unique=True)
    language = models.CharField(
        max_length=8, choices=SkillLanguage.choices, default=SkillLanguage.PYTHON
    )
    backend = models.CharField(max_length=8, choices=EnvironmentBackend.choices)
    requirements = models.JSONField(default=list, blank=True, help_text="Normalized, sorted.")
    interpreter = models.CharField(max_length=64, help_text="e.g. cpython-3.12.1 or node-20.19.0")
    platform = models.CharField(max_length=64)
    policy_version = models.CharField(max_length=16)
    status = models.CharField(
        max_length=16,
        choices=EnvironmentStatus.choices,
        default=EnvironmentStatus.PENDING,
        db_index=True,
    )
    location = models.CharField(
        max_length=1024, blank=True, help_text="Directory, or image tag for Docker."
    )
    lockfile = models.TextField(blank=True, help_text="Resolved pins with their hashes.")
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    build_seconds = models.FloatField(null=True, blank=True)
    build_count = models.PositiveIntegerField(default=0, help_text="Builds started for this key.")
    error = models.TextField(blank=True)
    # Who holds the build: set by the one conditional UPDATE that moves the row to "building".
    build_token = models.CharField(max_length=32, blank=True)
    build_host = models.CharField(max_length=255, blank=True)
    build_pid = models.PositiveIntegerField(null=True, blank=True)
    build_heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, db_index=True)
    use_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.backend}:{self.key[:12]}"

    @property
    def is_ready(self) -> bool:
        return self.status == EnvironmentStatus.READY

    @property
    def python_path(self) -> Path | None:
        """The interpreter a runner starts for a Python environment built on this host."""
        if self.language != SkillLanguage.PYTHON or self.backend == EnvironmentBackend.DOCKER:
            return None
        return Path(self.location) / "bin" / "python"

    @property
    def node_path(self) -> Path | None:
        """The `node_modules` directory a Node runner resolves packages from."""
        if self.language != SkillLanguage.NODE:
            return None
        return Path(self.location) / "node_modules"


class InstallJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class InstallJob(models.Model):
    """One request for one environment, on behalf of one or more skills (a batch makes one job
    per distinct key and groups them by `batch`)."""

    batch = models.UUIDField(null=True, blank=True, db_index=True)
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="jobs")
    skills = models.ManyToManyField(Skill, blank=True, related_name="install_jobs")
    skill_versions = models.ManyToManyField(SkillVersion, blank=True, related_name="+")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="install_jobs"
    )
    status = models.CharField(
        max_length=16,
        choices=InstallJobStatus.choices,
        default=InstallJobStatus.QUEUED,
        db_index=True,
    )
    cache_hit = models.BooleanField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resolve_seconds = models.FloatField(null=True, blank=True)
    install_seconds = models.FloatField(null=True, blank=True)
    verify_seconds = models.FloatField(null=True, blank=True)
    total_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["environment", "created_at"], name="installjob_env_created")
        ]

    def __str__(self) -> str:
        return f"install job {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (InstallJobStatus.SUCCEEDED, InstallJobStatus.FAILED)


class InstallLogLine(models.Model):
    """A line of a job's log, written when it happens so progress can be followed live."""

    job = models.ForeignKey(InstallJob, on_delete=models.CASCADE, related_name="log_lines")
    created_at = models.DateTimeField(auto_now_add=True)
    text = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text[:80]


class InstallSlot(models.Model):
    """One of the `MAX_CONCURRENT_INSTALLATIONS` builds that may run at once across every
    worker and host. A build holds a slot from the start of its work to its end; the holder
    is named as an environment's builder is, so a dead one can be replaced."""

    number = models.PositiveSmallIntegerField(unique=True)
    token = models.CharField(max_length=32, blank=True, help_text="Empty when the slot is free.")
    environment_key = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"install slot {self.number} ({'held' if self.token else 'free'})"

    @property
    def is_held(self) -> bool:
        return bool(self.token)
