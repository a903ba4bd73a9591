"""The operations the skills app records timing samples under (`perf.recording`).

Imported by the runtime, which loads without Django: nothing here may import it.
"""

from perf.registry import operation_register

PACKAGE_INSTALL = "package_install"
ENVIRONMENT_CACHE_HIT = "environment_cache_hit"
DEPENDENCY_RESOLUTION = "dependency_resolution"
SKILL_IMPORT = "skill_import"
SKILL_LOAD = "skill_load"
HOT_RELOAD = "hot_reload"
SKILL_RUN = "skill_run"
SKILL_UPDATE = "skill_update"
MARKETPLACE_SEARCH = "marketplace_search"

# The reference system's published budgets, in seconds: what perf's budgets started from
# (editable in the admin and the API).
SEED_BUDGETS: dict[str, float] = {
    PACKAGE_INSTALL: 5.0,
    SKILL_LOAD: 1.0,
    HOT_RELOAD: 1.0,
    MARKETPLACE_SEARCH: 0.1,
    DEPENDENCY_RESOLUTION: 0.5,
    SKILL_UPDATE: 0.5,
}


def operations_register() -> None:
    """Tell perf the names above (from `SkillsConfig.ready()`)."""
    for name in (
        PACKAGE_INSTALL,
        ENVIRONMENT_CACHE_HIT,
        DEPENDENCY_RESOLUTION,
        SKILL_IMPORT,
        SKILL_LOAD,
        HOT_RELOAD,
        SKILL_RUN,
        SKILL_UPDATE,
        MARKETPLACE_SEARCH,
    ):
        operation_register(name, seed_budget=SEED_BUDGETS.get(name))
