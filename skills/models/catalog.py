"""The skill catalog: skills, their immutable versions, their history, and the agents using them."""

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models.functions import Cast, Replace
from django.dispatch import Signal

# The text-search configuration of the marketplace's PostgreSQL document (an explicit config
# keeps `to_tsvector` immutable, which a generated column requires).
SEARCH_CONFIG = "english"


class SkillStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"


class SkillType(models.TextChoices):
    TRANSFORM = "transform", "Transform"
    EXTRACT = "extract", "Extract"
    ANALYZE = "analyze", "Analyze"
    GENERATE = "generate", "Generate"
    FETCH = "fetch", "Fetch"
    VALIDATE = "validate", "Validate"
    UTILITY = "utility", "Utility"


class SkillLanguage(models.TextChoices):
    PYTHON = "python", "Python"
    NODE = "node", "Node"


class HistoryAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "New version"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"
    REJECTED = "rejected", "Invalid file"
    MAPPED = "mapped", "Mapped to agent"
    UNMAPPED = "unmapped", "Unmapped from agent"


class SearchDocument(models.Func):
    """A skill's weighted full-text document: name (A) above tags (B) above description (C).

    Only PostgreSQL stores it; on SQLite the column stays NULL and an FTS5 table kept in step
    by triggers does its job (see skills/marketplace/search/sqlite.py and docs/marketplace.md).
    """

    def __init__(self) -> None:
        vector = (
            SearchVector(
                Replace(models.F("slug"), models.Value("-"), models.Value(" ")),
                weight="A",
                config=SEARCH_CONFIG,
            )
            + SearchVector(Cast("tags", models.TextField()), weight="B", config=SEARCH_CONFIG)
            + SearchVector("description", weight="C", config=SEARCH_CONFIG)
        )
        super().__init__(vector, output_field=SearchVectorField())

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])


# Sent after a write of skills or versions that sends no `post_save` (see CatalogQuerySet), with
# `using`, the database written to.
catalog_rows_written = Signal()


class CatalogQuerySet(models.QuerySet):
    """Processes keep copies of catalog rows (skills/catalog/selectors.py), dropped when a
    write is announced: `save()` and `delete()` send Django's signals, and the writes here,
    which send none, send `catalog_rows_written`. Raw SQL must announce itself (the run
    counter is the one raw write, and no copy is read for it)."""

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        if rows:
            self._written()
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            self._written()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        if rows:
            self._written()
        return rows

    def _written(self) -> None:
        catalog_rows_written.send(sender=self.model, using=self.db)


class Skill(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    category = models.SlugField(max_length=64, db_index=True)
    type = models.CharField(max_length=16, choices=SkillType.choices, db_index=True)
    status = models.CharField(
        max_length=16, choices=SkillStatus.choices, default=SkillStatus.DRAFT, db_index=True
    )
    language = models.CharField(
        max_length=8, choices=SkillLanguage.choices, default=SkillLanguage.PYTHON
    )
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    current_version = models.ForeignKey(
        "SkillVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_path = models.CharField(
        max_length=1024, blank=True, help_text="The file this skill was last read from."
    )
    last_error = models.TextField(
        blank=True, help_text="Why the newest edit of the file was not accepted."
    )
    last_error_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    install_count = models.PositiveBigIntegerField(default=0)
    run_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Marketplace full text (PostgreSQL); its GIN and trigram indexes are made in the
    # marketplace_search migration because SQLite has neither.
    search = models.GeneratedField(
        expression=SearchDocument(), output_field=SearchVectorField(), db_persist=True
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        indexes = [
            models.Index(fields=["slug", "content_hash"], name="skill_slug_hash"),
            models.Index(fields=["category", "slug"], name="skill_category_slug"),
            models.Index(fields=["type", "slug"], name="skill_type_slug"),
            models.Index(fields=["status", "slug"], name="skill_status_slug"),
            # Marketplace filters and sorts (status is always part of its queries).
            models.Index(fields=["status", "category", "slug"], name="skill_status_category"),
            models.Index(fields=["status", "type", "slug"], name="skill_status_type"),
            models.Index(fields=["status", "-install_count", "slug"], name="skill_popularity"),
            models.Index(fields=["status", "-created_at", "slug"], name="skill_newest"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_offered(self) -> bool:
        """Only approved skills are offered to clients by default."""
        return self.status == SkillStatus.APPROVED


class SkillVersion(models.Model):
    """One immutable version of a skill's file."""

    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64, db_index=True)
    filename = models.CharField(max_length=255)
    source = models.TextField()
    requirements = models.JSONField(default=list, blank=True)
    requires_python = models.CharField(max_length=128, blank=True)
    inputs_schema = models.JSONField(null=True, blank=True)
    entrypoint = models.CharField(max_length=128, default="run")
    timeout = models.FloatField(default=30.0)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["skill", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["skill", "version"], name="skill_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.skill.slug} {self.version}"


class SkillHistory(models.Model):
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="history")
    version = models.ForeignKey(
        SkillVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=HistoryAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "skill history"
        indexes = [models.Index(fields=["skill", "created_at"], name="history_skill_created")]

    def __str__(self) -> str:
        return f"{self.skill.slug}: {self.action}"


class AgentKind(models.TextChoices):
    TEAM = "team", "Team"
    SERVICE = "service", "Service"
    BOT = "bot", "Bot"


class Agent(models.Model):
    """A named consumer of skills: a team, a service or a bot."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=AgentKind.choices, default=AgentKind.SERVICE)
    description = models.TextField(blank=True)
    skills = models.ManyToManyField(Skill, through="AgentSkill", related_name="agents")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class AgentSkill(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="mappings")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="mappings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "skill"], name="agent_skill_unique"),
        ]
        indexes = [models.Index(fields=["skill", "agent"], name="agent_skill_reverse")]

    def __str__(self) -> str:
        return f"{self.agent.slug} → {self.skill.slug}"


class RejectedSkillFile(models.Model):
    """A file in the watched folder the catalog refused and no skill came from yet.

    A refused edit of a known skill's file is recorded on that skill (`Skill.last_error`); a new
    file has no skill to carry its error, so it is kept here until the file is fixed or removed.
    """

    path = models.CharField(max_length=1024, unique=True)
    message = models.TextField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.path
