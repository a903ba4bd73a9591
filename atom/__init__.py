"""Atom in a notebook: `import atom` configures Django from the server's environment variables
(DATABASE_URL, ATOM_DATA_DIR, REDIS_URL…), and every function below works inside Jupyter's
event loop (see atom/configure.py and docs/notebooks.md).

    import atom
    atom.setup(migrate=True)          # only on a database never migrated
    atom.skills("csv")                # DataFrames: skills, environments, installs, runs, …
    atom.install("change-case")       # with a progress bar
    atom.run_skill("change-case", text="parseHTTPResponse")
    run = atom.run_workflow("etl", {"url": "…"}); run.watch(); run.result()
"""

from atom.configure import SetupRequired, django_configure, setup

django_configure()

from atom.actions import (  # noqa: E402  (Django must be configured before the models load)
    Installed,
    RunFailed,
    RunHandle,
    SkillCall,
    install,
    run,
    run_skill,
    run_workflow,
)
from atom.frames import (  # noqa: E402
    calls,
    environments,
    installs,
    runs,
    skill_runs,
    skills,
    steps,
)
from atom.maintenance import baseline, budget, demo_load, gc_preview  # noqa: E402
from atom.performance import alerts, regressions, samples, summary  # noqa: E402
from atom.plots import percentiles_plot  # noqa: E402
from atom.views import environment, skill, workflow  # noqa: E402
from workflows.builder import SkillStep, Workflow, ref  # noqa: E402

__all__ = [
    "Installed",
    "RunFailed",
    "RunHandle",
    "SetupRequired",
    "SkillCall",
    "SkillStep",
    "Workflow",
    "alerts",
    "baseline",
    "budget",
    "calls",
    "demo_load",
    "environment",
    "environments",
    "gc_preview",
    "install",
    "installs",
    "percentiles_plot",
    "ref",
    "regressions",
    "run",
    "run_skill",
    "run_workflow",
    "runs",
    "samples",
    "setup",
    "skill",
    "skill_runs",
    "skills",
    "steps",
    "summary",
    "workflow",
]
