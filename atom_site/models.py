"""API keys: how scripts, services and agents sign in to the API (atom_site/keys.py); the
persisted live events of runs and install jobs (atom_site/events/)."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read runs and jobs"
    RUN = "run", "Run skills"
    INSTALL = "install", "Install skills' packages"
    PUBLISH = "publish", "Import, approve and deprecate skills"
    ADMIN = "admin", "Manage agents and their skills"


class ApiKey(models.Model):
    """One API key. The token (`atom_<public_id>_<secret>`) is shown once, when the key is
    made; only the SHA-256 of its secret is kept, and the public id finds the row."""

    public_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)  # SHA-256 of the secret, hex
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    # Deleting the agent deletes its keys: unbinding them instead would widen what they may do.
    agent = models.ForeignKey(
        "skills.Agent",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text="A key bound to an agent runs and installs only the skills mapped to it.",
    )
    name = models.CharField(max_length=200)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (atom_{self.public_id}_…)"

    def state(self, now: datetime) -> str:
        """ "active", "revoked" or "expired" at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class EventStream(models.Model):
    """The event counter of one subject (a workflow run, an install job, a queued skill run):
    `last_seq` is the sequence number of its last event, moved by one upsert per write
    (atom_site/events/record.py), so sequence numbers come without gaps or repeats."""

    subject = models.CharField(max_length=16)
    subject_id = models.BigIntegerField()
    last_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "subject_id"], name="eventstream_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.subject_id} (last {self.last_seq})"


class Event(models.Model):
    """One persisted event of a subject: a state change or a batch of log lines."""

    subject = models.CharField(max_length=16)
    subject_id = models.BigIntegerField()
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    kind = models.CharField(max_length=16)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "subject_id", "seq"], name="event_subject_seq_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.subject_id} #{self.seq} {self.kind}"

    def as_message(self) -> dict[str, Any]:
        """The event as the websocket and the HTTP endpoints carry it."""
        return {"seq": self.seq, "at": self.at.isoformat(), "kind": self.kind, **self.data}
