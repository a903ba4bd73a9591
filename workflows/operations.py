"""The operations the workflows app records timing samples under (`perf.recording`)."""

from perf.registry import operation_register

WORKFLOW_VALIDATION = "workflow_validation"
STEP_QUEUE_WAIT = "step_queue_wait"
STEP_RUN = "step_run"
WORKFLOW_RUN = "workflow_run"
# A step's time in the worker outside the skill's own call: claim, params, plan, output, release.
STEP_ENGINE_OVERHEAD = "step_engine_overhead"

# The reference system's published budgets, in seconds: what perf's budgets started from
# (editable in the admin and the API).
SEED_BUDGETS: dict[str, float] = {WORKFLOW_VALIDATION: 0.05}


def operations_register() -> None:
    """Tell perf the names above (from `WorkflowsConfig.ready()`)."""
    for name in (
        WORKFLOW_VALIDATION,
        STEP_QUEUE_WAIT,
        STEP_RUN,
        STEP_ENGINE_OVERHEAD,
        WORKFLOW_RUN,
    ):
        operation_register(name, seed_budget=SEED_BUDGETS.get(name))
