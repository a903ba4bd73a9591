"""The django-q2 schedules the workflows app needs; `up` makes sure they exist."""

from django_q.models import Schedule

from perf.schedules import schedules_write


def schedules_wanted() -> dict[str, dict]:
    return {
        "workflows.reap": {
            "func": "workflows.tasks.runs_reap_task",
            "kwargs": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
    }


def schedules_ensure() -> list[str]:
    """Create or update the workflows' schedules (idempotent); returns their names."""
    return schedules_write(schedules_wanted())
