"""django-q2 tasks of the skills app: thin wrappers taking primary keys, safe to run twice."""

from skills.runs.records import skill_run_execute


def run_skill_task(run_pk: int) -> str:
    """Carry out one queued skill run; returns its final status."""
    return skill_run_execute(run_pk=run_pk).status
