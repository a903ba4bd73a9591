"""Open, update, close and acknowledge alerts; at most one open alert per subject.

The partial unique constraint `perf_alert_one_open` backs the deduplication, so two checks
running at once cannot open the same alert twice.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from perf.models import Alert


def alert_raise(
    *,
    kind: str,
    operation: str,
    subject: str = "",
    severity: str,
    message: str,
    observed: float,
    threshold: float,
) -> tuple[Alert, bool]:
    """Open an alert, or refresh the open one for the same subject; returns (alert, created)."""
    values = {
        "severity": severity,
        "message": message,
        "observed": observed,
        "threshold": threshold,
        "updated_at": timezone.now(),
    }
    key = {"kind": kind, "operation": operation, "subject": subject, "closed_at__isnull": True}
    with transaction.atomic():
        updated = Alert.objects.filter(**key).update(**values)
        if updated:
            return Alert.objects.get(**key), False
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    kind=kind, operation=operation, subject=subject, **values
                )
        except IntegrityError:  # another check opened it a moment ago
            Alert.objects.filter(**key).update(**values)
            return Alert.objects.get(**key), False
    return alert, True


def alert_close(*, kind: str, operation: str, subject: str = "") -> int:
    """Close the open alert of a subject that is back under its threshold."""
    return Alert.objects.filter(
        kind=kind, operation=operation, subject=subject, closed_at__isnull=True
    ).update(closed_at=timezone.now())


def alert_acknowledge(*, alert_id: int, user) -> Alert:
    """Mark an alert as seen by `user`; acknowledging twice keeps the first acknowledgement."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.acknowledged_at is None:
            alert.acknowledged_by = user
            alert.acknowledged_at = timezone.now()
            alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
    return alert


def alerts_open(*, operation: str | None = None):
    alerts = Alert.objects.filter(closed_at__isnull=True).select_related("acknowledged_by")
    if operation is not None:
        alerts = alerts.filter(operation=operation)
    return alerts.order_by("-created_at")
