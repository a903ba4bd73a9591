"""The operation names Atom records, and the budgets they start with.

An operation is any string; these are the ones the other apps record, so a name that is none
of these and has never been measured is "unknown" to the API (404).
"""

PACKAGE_INSTALL = "package_install"
ENVIRONMENT_CACHE_HIT = "environment_cache_hit"
SKILL_LOAD = "skill_load"
HOT_RELOAD = "hot_reload"
SKILL_RUN = "skill_run"
SKILL_UPDATE = "skill_update"
MARKETPLACE_SEARCH = "marketplace_search"
WORKFLOW_VALIDATION = "workflow_validation"
DEPENDENCY_RESOLUTION = "dependency_resolution"
STEP_QUEUE_WAIT = "step_queue_wait"
STEP_RUN = "step_run"
WORKFLOW_RUN = "workflow_run"

KNOWN_OPERATIONS: frozenset[str] = frozenset(
    {
        PACKAGE_INSTALL,
        ENVIRONMENT_CACHE_HIT,
        SKILL_LOAD,
        HOT_RELOAD,
        SKILL_RUN,
        SKILL_UPDATE,
        MARKETPLACE_SEARCH,
        WORKFLOW_VALIDATION,
        DEPENDENCY_RESOLUTION,
        STEP_QUEUE_WAIT,
        STEP_RUN,
        WORKFLOW_RUN,
    }
)

# The reference system's published budgets, in seconds: the starting point, editable in the
# admin and the API.
SEED_BUDGETS: dict[str, float] = {
    PACKAGE_INSTALL: 5.0,
    SKILL_LOAD: 1.0,
    HOT_RELOAD: 1.0,
    MARKETPLACE_SEARCH: 0.1,
    WORKFLOW_VALIDATION: 0.05,
    DEPENDENCY_RESOLUTION: 0.5,
    SKILL_UPDATE: 0.5,
}

STATISTICS: tuple[str, ...] = ("p50", "p95", "p99")
