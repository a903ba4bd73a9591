"""django-q2 tasks: thin wrappers that the schedules in perf/schedules.py run."""

from perf.monitor import resource_sampling_run
from perf.recording import flush
from perf.regressions import checks_run
from perf.retention import rollup


def resource_sample_task(period: float = 60.0) -> int:
    return resource_sampling_run(period=period)


def checks_task() -> dict[str, int]:
    flush()  # judge this worker's own latest samples too
    return checks_run()


def rollup_task() -> dict[str, int]:
    result = rollup()
    return {"hours": result.hours, "pruned": result.samples_pruned}
