"""Django's admin autodiscovery imports `skills.admin`; each wing registers its own models."""

import skills.catalog.admin  # noqa: F401
import skills.installer.admin  # noqa: F401
import skills.runs.admin  # noqa: F401
