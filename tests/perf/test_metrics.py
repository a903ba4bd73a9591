from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from perf.alerts import alert_acknowledge, alert_raise
from perf.budgets import baseline_set
from perf.models import HourlyRollup, ResourceSample
from perf.retention import hour_floor
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_operations_across_rollups_and_recent_samples(client, recent):
    rolled_hour = hour_floor(recent) - timedelta(hours=3)
    HourlyRollup.objects.create(
        operation="skill_load",
        hour=rolled_hour,
        count=100,
        error_count=4,
        total=12.5,
        minimum=0.01,
        maximum=1.0,
        p50=0.1,
        p95=0.2,
        p99=0.3,
    )
    # Already counted in the rollup above: must not be counted twice.
    samples_create("skill_load", [0.5] * 3, at=rolled_hour + timedelta(minutes=30))
    samples_create("skill_load", [0.1, 0.2, 0.3, 0.4], at=recent)
    samples_create("skill_load", [1.0], at=recent, ok=False)

    found = scrape(client)

    load = (("operation", "skill_load"),)
    assert found[("atom_operation_duration_seconds_count", load)] == 105
    assert found[("atom_operation_duration_seconds_sum", load)] == pytest.approx(14.5)
    assert found[("atom_operation_errors_total", load)] == 5
    # Quantiles over the recent window only (the last 5 minutes by default).
    quantile = (("operation", "skill_load"), ("quantile", "0.5"))
    assert found[("atom_operation_duration_seconds", quantile)] == pytest.approx(0.3)
    quantile = (("operation", "skill_load"), ("quantile", "0.99"))
    assert found[("atom_operation_duration_seconds", quantile)] == pytest.approx(0.976)


def test_metrics_show_budgets_baselines_and_open_alerts(client, staff_user):
    baseline_set(operation="skill_run", p50=0.1, p95=0.2, p99=0.3, count=5, source="manual")
    for operation in ("skill_run", "skill_load"):
        alert_raise(
            kind="regression",
            operation=operation,
            severity="warning",
            message=f"{operation} regressed",
            observed=2.0,
            threshold=1.0,
        )
    acknowledged, _ = alert_raise(
        kind="resource",
        operation="cpu",
        subject="web-1",
        severity="critical",
        message="cpu at 99%",
        observed=99.0,
        threshold=95.0,
    )
    alert_acknowledge(alert_id=acknowledged.pk, user=staff_user)

    found = scrape(client)

    budget = (("operation", "package_install"), ("statistic", "p95"))
    assert found[("atom_operation_budget_seconds", budget)] == 5.0
    baseline = (("operation", "skill_run"), ("statistic", "p99"))
    assert found[("atom_operation_baseline_seconds", baseline)] == 0.3
    open_alerts = {
        labels: value for (name, labels), value in found.items() if name == "atom_alerts_open"
    }
    warning = (("acknowledged", "false"), ("kind", "regression"), ("severity", "warning"))
    critical = (("acknowledged", "true"), ("kind", "resource"), ("severity", "critical"))
    assert open_alerts[warning] == 2
    assert open_alerts[critical] == 1
    assert sum(open_alerts.values()) == 3


def test_metrics_show_each_hosts_latest_resources(client, recent):
    for minutes, cpu in ((2, 10.0), (1, 55.5)):
        ResourceSample.objects.create(
            host="web-1",
            cpu_percent=cpu,
            memory_percent=41.0,
            disk_read_bytes=0,
            disk_write_bytes=0,
            queue_length=7,
            created_at=recent - timedelta(minutes=minutes),
        )
    ResourceSample.objects.create(  # too old to still be true
        host="gone-1",
        cpu_percent=1.0,
        memory_percent=1.0,
        disk_read_bytes=0,
        disk_write_bytes=0,
        created_at=recent - timedelta(hours=1),
    )

    found = scrape(client)

    web = (("host", "web-1"),)
    assert found[("atom_host_cpu_percent", web)] == 55.5
    assert found[("atom_host_memory_percent", web)] == 41.0
    assert found[("atom_task_queue_length", web)] == 7
    assert found[("atom_host_resource_sample_timestamp_seconds", web)] == pytest.approx(
        (recent - timedelta(minutes=1)).timestamp()
    )
    assert ("atom_host_cpu_percent", (("host", "gone-1"),)) not in found


def test_metrics_show_each_agents_queue_length(client):
    from skills.models import Agent, Skill, SkillRun, SkillVersion

    skill = Skill.objects.create(slug="echo", category="text", type="utility")
    version = SkillVersion.objects.create(
        skill=skill, version="1.0.0", content_hash="h1", filename="echo.py", source="def run(): 1"
    )
    agent = Agent.objects.create(slug="night-batch", name="Night batch")
    for _ in range(3):
        SkillRun.objects.create(skill=skill, version=version, agent=agent, timeout=5)

    found = scrape(client)

    assert found[("atom_agent_queue_length", (("agent", "night-batch"),))] == 3


def test_metrics_with_a_token_refuse_a_scrape_without_it(client, settings):
    settings.PERF_METRICS_TOKEN = "s3cret"

    refused = client.get("/metrics", headers={"Authorization": "Bearer wrong"})

    assert refused.status_code == 401
    assert b"atom_" not in refused.content
    assert client.get("/metrics").status_code == 401
    found = scrape(client, Authorization="Bearer s3cret")
    assert (
        found[
            ("atom_operation_budget_seconds", (("operation", "skill_load"), ("statistic", "p95")))
        ]
        == 1.0
    )
