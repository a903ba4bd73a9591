import importlib

from perf.registry import operations_known, queued_work, seed_budgets


def test_the_apps_register_the_operations_they_record():
    assert operations_known() == {
        "package_install",
        "environment_cache_hit",
        "dependency_resolution",
        "skill_import",
        "skill_load",
        "hot_reload",
        "skill_run",
        "skill_update",
        "marketplace_search",
        "workflow_validation",
        "step_queue_wait",
        "step_run",
        "step_engine_overhead",
        "workflow_run",
    }


def test_the_registered_seed_budgets_are_those_the_database_was_seeded_with():
    seeded = importlib.import_module("perf.migrations.0002_seed_budgets").SEED_BUDGETS

    assert seed_budgets() == seeded


def test_queued_runs_and_installs_count_in_an_agents_queue():
    assert [(work.model._meta.label, work.status) for work in queued_work()] == [
        ("skills.SkillRun", "queued"),
        ("skills.InstallJob", "queued"),
    ]
