"""The django-q2 schedules the installer needs; `up` makes sure they exist."""

from django_q.models import Schedule

from perf.schedules import schedules_write


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
    return schedules_write(schedules_wanted())
