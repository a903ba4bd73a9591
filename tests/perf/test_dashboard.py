import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages

from perf.alerts import alert_raise
from perf.budgets import baseline_set
from perf.models import Alert, Baseline, Budget, ResourceSample, Sample
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/perf/dashboard/"


def page(response) -> str:
    """The page's HTML with the whitespace between tags removed."""
    return re.sub(r">\s+<", "><", response.content.decode())


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_admin_index_links_to_the_dashboard(staff_client):
    response = staff_client.get("/admin/")

    assert response.status_code == 200
    assert f'href="{DASHBOARD}"' in response.content.decode()


def test_the_dashboard_is_for_staff_only(client, django_user_model):
    user = django_user_model.objects.create_user("reader", password="pw", is_staff=False)
    client.force_login(user)

    for url in (DASHBOARD, DASHBOARD + "chart/operation/?operation=skill_load"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_dashboard_shows_percentiles_against_budget_and_baseline(staff_client, recent):
    samples_create("skill_load", [0.1, 0.2, 0.3, 0.4], at=recent)
    samples_create("skill_load", [9.0], at=recent - timedelta(days=2))  # outside the window
    baseline_set(operation="skill_load", p50=0.11, p95=0.12, p99=0.13, count=7, source="manual")

    response = staff_client.get(DASHBOARD)

    assert response.status_code == 200
    [report] = [
        r for r in response.context["overview"].operations if r.summary.operation == "skill_load"
    ]
    assert (report.summary.count, report.budget, report.verdict) == (4, 1.0, "regressed")
    assert response.context["chart_operation"] == "skill_load"  # the chart opens on trouble
    assert report.summary.p50 == pytest.approx(0.25)
    row = _row(response, "skill_load")
    assert "<td>250</td>" in row  # p50 in ms
    assert "<td>385</td>" in row  # p95
    assert "<td>397</td>" in row  # p99
    # The budget, editable in place in ms like the percentiles beside it.
    assert 'name="milliseconds" value="1000"' in row
    assert "<th>budget (ms)</th>" in page(response)
    assert "110 / 120 / 130" in row  # baseline p50 / p95 / p99
    assert "regressed" in row
    # Budgeted operations without samples are listed too, with their budget.
    assert 'name="milliseconds" value="5000"' in _row(response, "package_install")
    assert "perf/vendor/uplot/uPlot.iife.min.js" in response.content.decode()


def _row(response, operation: str) -> str:
    html = page(response)
    start = html.index(f'data-operation="{operation}"')
    return html[start : html.index("</tr>", start)]


def test_the_dashboard_shows_alerts_resources_cache_hits_and_agents(staff_client, recent):
    alert, _ = alert_raise(
        kind="budget",
        operation="skill_load",
        severity="critical",
        message="skill_load p95 3 s is over its budget of 1 s",
        observed=3.0,
        threshold=1.0,
    )
    ResourceSample.objects.create(
        host="web-1",
        cpu_percent=42.5,
        memory_percent=63.2,
        disk_read_bytes=0,
        disk_write_bytes=0,
        disk_write_rate=2_500_000,
        open_files=321,
        queue_length=4,
        created_at=recent - timedelta(minutes=1),
    )
    samples_create("environment_cache_hit", [0.001] * 3, at=recent)
    samples_create("package_install", [2.0], at=recent)
    samples_create("step_run", [0.2, 0.4], at=recent, agent="agent-7")

    html = page(staff_client.get(DASHBOARD))

    assert "skill_load p95 3 s is over its budget of 1 s" in html
    assert f'action="/admin/perf/dashboard/alerts/{alert.pk}/acknowledge/"' in html
    assert "<td>42.5%</td><td>63.2%</td>" in html
    assert "<td>2 MB/s</td><td>321</td><td>4</td>" in html
    assert "<tr><td>environments</td><td>3</td><td>4</td><td>75%</td></tr>" in html
    assert "<tr><td>agent-7</td><td>2</td><td>100%</td><td>300</td><td>0</td></tr>" in html


def test_an_inverted_window_is_422_naming_the_field(staff_client):
    response = staff_client.get(DASHBOARD, {"since": "1h", "until": "2h"})

    assert response.status_code == 422
    assert any(message.startswith("since:") for message in messages_of(response))


def test_the_chart_endpoint_returns_the_operations_series(staff_client, recent):
    since = recent - timedelta(minutes=60)
    for offset, duration in ((30, 0.2), (31, 0.4), (3630 - 60, 1.0)):
        Sample.objects.create(
            operation="skill_run", duration=duration, created_at=since + timedelta(seconds=offset)
        )
    baseline_set(operation="skill_run", p50=0.1, p95=0.2, p99=0.3, count=5, source="manual")
    Budget.objects.create(operation="skill_run", seconds=0.75, statistic="p99")

    response = staff_client.get(
        DASHBOARD + "chart/operation/",
        {"operation": "skill_run", "since": since.isoformat(), "until": recent.isoformat()},
    )

    assert response.status_code == 200
    found = response.json()
    start = since.timestamp()
    assert found["time"] == [pytest.approx(start), pytest.approx(start + 3540)]
    assert found["count"] == [2, 1]
    assert found["p50"] == [pytest.approx(0.3), 1.0]
    assert found["p99"] == [pytest.approx(0.398), 1.0]
    assert (found["budget"], found["budget_statistic"]) == (0.75, "p99")
    assert found["baseline"] == {"p50": 0.1, "p95": 0.2, "p99": 0.3}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"operation": "no_such_operation"}, 404, None),
        ({"operation": "skill_load", "since": "1h", "until": "2h"}, 422, "since"),
        ({"operation": "skill_load", "until": "yesterday-ish"}, 422, "until"),
        ({}, 422, "operation"),
    ],
)
def test_the_chart_endpoint_refuses_bad_input(staff_client, params, status, field):
    response = staff_client.get(DASHBOARD + "chart/operation/", params)

    assert response.status_code == status
    if field is not None:
        assert response.json()["detail"][0]["loc"] == ["query", field]


def test_the_resource_chart_returns_each_hosts_series(staff_client, recent):
    ResourceSample.objects.create(
        host="web-1",
        cpu_percent=12.0,
        memory_percent=34.0,
        disk_read_bytes=0,
        disk_write_bytes=0,
        created_at=recent - timedelta(minutes=5),
    )

    found = staff_client.get(DASHBOARD + "chart/resources/").json()

    assert list(found["hosts"]) == ["web-1"]
    assert found["hosts"]["web-1"]["cpu_percent"] == [12.0]
    assert found["hosts"]["web-1"]["memory_percent"] == [34.0]
    assert len(found["hosts"]["web-1"]["time"]) == 1


def test_staff_edit_a_budget_in_place_in_milliseconds(staff_client):
    response = staff_client.post(
        DASHBOARD + "budgets/skill_load/",
        {"milliseconds": "250", "statistic": "p99", "next": DASHBOARD + "?since=2h"},
    )

    assert response.status_code == 302
    assert response["Location"] == DASHBOARD + "?since=2h"
    budget = Budget.objects.get(operation="skill_load")
    assert (budget.seconds, budget.statistic) == (0.25, "p99")


@pytest.mark.parametrize("milliseconds", ["0", "-1", "abc", "", "inf", "nan"])
def test_a_budget_of_zero_or_less_is_refused_naming_the_field(staff_client, milliseconds):
    before = list(Budget.objects.values_list("operation", "seconds", "statistic"))

    response = staff_client.post(
        DASHBOARD + "budgets/skill_load/", {"milliseconds": milliseconds, "statistic": "p95"}
    )

    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith("milliseconds:")
    assert list(Budget.objects.values_list("operation", "seconds", "statistic")) == before


def test_a_budget_for_an_unknown_operation_is_404(staff_client):
    response = staff_client.post(DASHBOARD + "budgets/no_such_operation/", {"milliseconds": "1"})

    assert response.status_code == 404
    assert not Budget.objects.filter(operation="no_such_operation").exists()


def test_the_budget_list_refuses_a_budget_of_zero_or_less(admin_client):
    budget = Budget.objects.get(operation="skill_load")

    response = admin_client.post(
        "/admin/perf/budget/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(budget.pk),
            "form-0-seconds": "-2",
            "form-0-statistic": "p95",
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    assert "seconds: a budget must be above 0 seconds" in response.content.decode()
    budget.refresh_from_db()
    assert budget.seconds == 1.0


def test_the_budget_change_form_refuses_a_budget_of_zero_or_less(admin_client):
    budget = Budget.objects.get(operation="skill_load")

    response = admin_client.post(
        f"/admin/perf/budget/{budget.pk}/change/",
        {"operation": "skill_load", "seconds": "0", "statistic": "p95"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["seconds"] == [
        "seconds: a budget must be above 0 seconds, not 0.0"
    ]
    budget.refresh_from_db()
    assert budget.seconds == 1.0


def test_set_baseline_from_the_last_day(staff_client, recent):
    samples_create("marketplace_search", [0.01, 0.02, 0.03], at=recent)
    samples_create("marketplace_search", [5.0], at=recent - timedelta(days=3))

    response = staff_client.post(DASHBOARD + "baselines/")

    assert response.status_code == 302
    baseline = Baseline.objects.get(operation="marketplace_search", skill="", version="")
    assert (baseline.count, baseline.source) == (3, "window")
    assert baseline.p50 == pytest.approx(0.02)
    assert messages_of(response) == ["Set 1 baseline(s) from the last 24 h: marketplace_search."]


def test_set_baseline_without_samples_sets_nothing(staff_client):
    response = staff_client.post(DASHBOARD + "baselines/")

    assert messages_of(response) == ["No sample in the last 24 h: no baseline was set."]
    assert not Baseline.objects.exists()


def test_actions_need_a_post(staff_client):
    assert staff_client.get(DASHBOARD + "baselines/").status_code == 405
    assert not Baseline.objects.exists()


def test_staff_acknowledge_an_alert(staff_client, staff_user):
    alert, _ = alert_raise(
        kind="regression",
        operation="skill_run",
        severity="warning",
        message="skill_run p99 regressed",
        observed=2.0,
        threshold=1.5,
    )

    response = staff_client.post(DASHBOARD + f"alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == staff_user
    assert alert.acknowledged_at is not None
    assert "acknowledged by ops" in staff_client.get(DASHBOARD).content.decode()


def test_the_alert_list_action_acknowledges_the_selected_alerts(admin_client, admin_user):
    alerts = [
        alert_raise(
            kind="regression",
            operation=operation,
            severity="warning",
            message=f"{operation} p99 regressed",
            observed=2.0,
            threshold=1.5,
        )[0]
        for operation in ("skill_run", "skill_load", "step_run")
    ]
    chosen = [alerts[0].pk, alerts[1].pk]

    response = admin_client.post(
        "/admin/perf/alert/", {"action": "acknowledge", "_selected_action": chosen}
    )

    assert response.status_code == 302
    assert messages_of(response) == ["Acknowledged 2 alert(s)."]
    acknowledged = Alert.objects.filter(acknowledged_by=admin_user)
    assert sorted(acknowledged.values_list("pk", flat=True)) == sorted(chosen)
    assert Alert.objects.get(pk=alerts[2].pk).acknowledged_at is None


def test_acknowledging_an_unknown_alert_is_404(staff_client):
    response = staff_client.post(DASHBOARD + "alerts/999999/acknowledge/")

    assert response.status_code == 404
    assert not Alert.objects.exists()


def test_the_dashboard_uses_the_admins_breadcrumbs(staff_client):
    html = staff_client.get(DASHBOARD).content.decode()

    assert '<div class="breadcrumbs">' not in html
    assert '<ol class="breadcrumbs">' in html
    assert '<li aria-current="page">Dashboard</li>' in html
