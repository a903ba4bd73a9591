"""The notebook client's tests reuse the skills tests' catalog fixtures (a skill imported into
the test database, its environment built in this test's directory)."""

from tests.skills.conftest import catalog_runtime, publish, ready

__all__ = ["catalog_runtime", "publish", "ready"]
