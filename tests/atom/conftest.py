"""The notebook client's tests reuse the skills tests' catalog fixtures (a skill imported into
the test database, its environment built in this test's directory) and the workflow engine's
(skills with no packages, workflows saved from steps, django-q2 in-process)."""

from tests.skills.conftest import catalog_runtime, publish, ready
from tests.workflows.conftest import engine_skills, q_sync, workflow_make

__all__ = ["catalog_runtime", "engine_skills", "publish", "q_sync", "ready", "workflow_make"]
