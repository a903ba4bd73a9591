from datetime import timedelta

import pytest

from perf.alerts import alert_raise
from perf.budgets import baseline_set
from perf.models import Alert, Baseline, Budget
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


def test_summary_gives_percentiles_beside_budget_and_baseline(client, recent):
    samples_create("skill_load", [0.1, 0.2, 0.3, 0.4], at=recent)
    baseline_set(operation="skill_load", p50=0.1, p95=0.2, p99=0.3, count=9, source="manual")

    response = client.get("/api/perf/summary", {"operation": "skill_load", "since": "1h"})

    assert response.status_code == 200
    [operation] = response.json()["operations"]
    assert operation["operation"] == "skill_load"
    assert operation["count"] == 4
    assert operation["p50"] == pytest.approx(0.25)
    assert (operation["budget"], operation["budget_statistic"]) == (1.0, "p95")
    assert operation["baseline"]["p99"] == 0.3


def test_summary_of_an_unknown_operation_is_404(client):
    response = client.get("/api/perf/summary", {"operation": "no_such_operation"})

    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown operation 'no_such_operation'",
        "errors": [{"field": "operation", "message": "unknown operation 'no_such_operation'"}],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday-ish"}, "since"),
        ({"until": "2024-13-45"}, "until"),
        ({"since": "2024-01-02T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "since"),
        ({"since": "1h", "until": "2h"}, "since"),
    ],
)
def test_an_unparsable_or_inverted_window_is_422_naming_the_field(client, params, field):
    response = client.get("/api/perf/summary", params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_samples_are_paginated_and_filtered(client, recent):
    samples_create("skill_run", [0.1] * 60, at=recent, skill="a", version="1")
    samples_create("skill_run", [0.2] * 3, at=recent, skill="b", version="1", ok=False)

    first = client.get("/api/perf/samples", {"operation": "skill_run", "skill": "a"}).json()
    second = client.get("/api/perf/samples", {"skill": "a", "page": 2}).json()
    failed = client.get("/api/perf/samples", {"ok": "false"}).json()

    assert (first["count"], len(first["items"]), len(second["items"])) == (60, 50, 10)
    assert {item["skill"] for item in first["items"]} == {"a"}
    assert [item["duration"] for item in failed["items"]] == [0.2, 0.2, 0.2]


def test_old_samples_are_outside_the_default_window(client, recent):
    samples_create("skill_run", [0.1], at=recent - timedelta(days=2))

    assert client.get("/api/perf/samples").json()["count"] == 0
    assert client.get("/api/perf/samples", {"since": "3d"}).json()["count"] == 1


def test_alerts_lists_open_alerts_and_staff_can_acknowledge(staff_client):
    alert, _ = alert_raise(
        kind="budget",
        operation="skill_load",
        severity="warning",
        message="slow",
        observed=2.0,
        threshold=1.0,
    )

    listed = staff_client.get("/api/perf/alerts").json()["items"]
    response = staff_client.post(f"/api/perf/alerts/{alert.pk}/acknowledge")

    assert [item["id"] for item in listed] == [alert.pk]
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "ops"
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None


def test_acknowledging_needs_a_staff_user(client, django_user_model):
    alert, _ = alert_raise(
        kind="budget",
        operation="skill_load",
        severity="warning",
        message="slow",
        observed=2.0,
        threshold=1.0,
    )
    client.force_login(django_user_model.objects.create_user("viewer", password="pw"))

    response = client.post(f"/api/perf/alerts/{alert.pk}/acknowledge")

    assert response.status_code == 403
    assert Alert.objects.get().acknowledged_at is None


def test_regressions_reports_operations_against_their_baseline(client, recent, settings):
    settings.PERF_MIN_SAMPLES = 1
    baseline_set(operation="hot_reload", p50=0.1, p95=0.1, p99=0.1, count=9, source="manual")
    samples_create("hot_reload", [0.2, 0.2], at=recent)

    body = client.get("/api/perf/regressions", {"since": "1h"}).json()

    assert body["threshold"] == 1.5
    [verdict] = body["operations"]
    assert (verdict["operation"], verdict["is_breached"]) == ("hot_reload", True)
    assert verdict["ratio"] == pytest.approx(2.0)
    assert Alert.objects.count() == 0  # reading never raises alerts


def test_a_threshold_under_one_is_422(client):
    response = client.get("/api/perf/regressions", {"threshold": "0.9"})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["threshold"]


def test_staff_can_change_a_budget(staff_client):
    response = staff_client.put(
        "/api/perf/budgets/skill_load",
        {"seconds": 0.003, "statistic": "p99"},
        content_type="application/json",
    )

    assert response.status_code == 200
    budget = Budget.objects.get(operation="skill_load")
    assert (budget.seconds, budget.statistic) == (0.003, "p99")


@pytest.mark.parametrize("seconds", [0, -1])
def test_a_budget_of_zero_or_less_is_refused_and_nothing_changes(staff_client, seconds):
    response = staff_client.put(
        "/api/perf/budgets/skill_load", {"seconds": seconds}, content_type="application/json"
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["seconds"]
    assert Budget.objects.get(operation="skill_load").seconds == 1.0


def test_a_budget_for_an_unknown_operation_is_404(staff_client):
    response = staff_client.put(
        "/api/perf/budgets/nothing_like_it", {"seconds": 1}, content_type="application/json"
    )

    assert response.status_code == 404
    assert not Budget.objects.filter(operation="nothing_like_it").exists()


def test_staff_can_set_a_baseline_from_a_window(staff_client, recent):
    samples_create("skill_load", [0.1, 0.2, 0.3], at=recent)

    response = staff_client.post(
        "/api/perf/baselines/skill_load", {"since": "1h"}, content_type="application/json"
    )

    assert response.status_code == 200
    baseline = Baseline.objects.get(operation="skill_load")
    assert (baseline.p50, baseline.count, baseline.source) == (0.2, 3, "window")


def test_a_baseline_from_an_empty_window_is_422(staff_client):
    response = staff_client.post(
        "/api/perf/baselines/skill_load", {"since": "1h"}, content_type="application/json"
    )

    assert response.status_code == 422
    assert Baseline.objects.count() == 0
