"""The django-q2 schedules perf needs; `up` makes sure they exist."""

import math

from django.conf import settings
from django_q.models import Schedule

SCHEDULE_PREFIX = "perf."


def schedules_wanted() -> dict[str, dict]:
    """name → Schedule fields. Resource sampling runs one task per period that samples every
    PERF_RESOURCE_INTERVAL seconds (the scheduler itself only wakes about every 30 s)."""
    period_minutes = max(1, math.ceil(settings.PERF_RESOURCE_INTERVAL / 60))
    return {
        "perf.resource_sample": {
            "func": "perf.tasks.resource_sample_task",
            "kwargs": repr({"period": period_minutes * 60.0}),
            "schedule_type": Schedule.MINUTES,
            "minutes": period_minutes,
        },
        "perf.checks": {
            "func": "perf.tasks.checks_task",
            "kwargs": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "perf.rollup": {
            "func": "perf.tasks.rollup_task",
            "kwargs": None,
            "schedule_type": Schedule.HOURLY,
            "minutes": None,
        },
    }


def schedules_ensure() -> list[str]:
    """Create or update perf's schedules (idempotent); returns their names."""
    return schedules_write(schedules_wanted())


def schedules_write(wanted: dict[str, dict]) -> list[str]:
    """Create or update repeating django-q2 schedules by name (idempotent), for perf and for
    the apps' own; returns their names."""
    for name, fields in wanted.items():
        Schedule.objects.update_or_create(name=name, defaults={**fields, "repeats": -1})
    return sorted(wanted)
