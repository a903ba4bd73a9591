"""Seed the budgets with the reference system's published targets (editable afterwards)."""

from django.db import migrations

SEED_BUDGETS = {
    "package_install": 5.0,
    "skill_load": 1.0,
    "hot_reload": 1.0,
    "marketplace_search": 0.1,
    "workflow_validation": 0.05,
    "dependency_resolution": 0.5,
    "skill_update": 0.5,
}


def seed(apps, schema_editor):
    Budget = apps.get_model("perf", "Budget")
    for operation, seconds in SEED_BUDGETS.items():
        Budget.objects.get_or_create(operation=operation, defaults={"seconds": seconds})


def unseed(apps, schema_editor):
    Budget = apps.get_model("perf", "Budget")
    Budget.objects.filter(operation__in=SEED_BUDGETS).delete()


class Migration(migrations.Migration):
    dependencies = [("perf", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
