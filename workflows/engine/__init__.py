"""The workflow run engine (docs/workflows.md, "Running").

`run_start` checks and writes a run and enqueues its ready steps; workers carry steps out with
`step_task_run`; `run_cancel`, `run_retry` and the reaper `runs_reap` complete the set. The
API, the admin, the `workflows run` command and notebooks call these same functions.
"""

from workflows.engine.control import ReapReport, run_cancel, runs_reap
from workflows.engine.progress import announce, listener_add, listener_remove
from workflows.engine.start import inputs_check, run_retry, run_start
from workflows.engine.steps import step_task_run

__all__ = [
    "ReapReport",
    "announce",
    "inputs_check",
    "listener_add",
    "listener_remove",
    "run_cancel",
    "run_retry",
    "run_start",
    "runs_reap",
    "step_task_run",
]
