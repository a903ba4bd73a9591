"""django-q2 tasks of the workflows app: thin, taking primary keys, safe to run twice (a step is
claimed with a conditional UPDATE before it runs)."""

from workflows.engine import runs_reap, step_task_run


def step_run_task(step_pk: int) -> str:
    """Carry out one queued step (and the successors it releases to this worker)."""
    return step_task_run(step_pk=step_pk)


def runs_reap_task() -> dict[str, list[int]]:
    """The reaper (a schedule, every minute): reclaims steps whose worker died, times runs out."""
    return runs_reap().as_dict()
