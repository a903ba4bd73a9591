"""The django-q2 schedules the installer needs; `up` makes sure they exist."""

from django_q.models import Schedule


def schedules_wanted() -> dict[str, dict]:
    return {
        "installs.reap": {
            "func": "skills.installer.tasks.install_jobs_reap_task",
            "kwargs": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
    }


def schedules_ensure() -> list[str]:
    """Create or update the installer's schedules (idempotent); returns their names."""
    wanted = schedules_wanted()
    for name, fields in wanted.items():
        Schedule.objects.update_or_create(name=name, defaults={**fields, "repeats": -1})
    return sorted(wanted)
