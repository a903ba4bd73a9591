"""The dashboard's charts drawn by a real browser: the page's script fetches the chart
endpoints and uPlot (vendored) draws them over the window the page was asked for."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from perf.models import ResourceSample
from tests.pages.browser import watching
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def measured() -> None:
    now = timezone.now()
    samples_create("skill_load", [0.1, 0.2, 0.3, 0.4], at=now - timedelta(minutes=1))
    for minutes, cpu in ((10, 12.0), (5, 40.0)):
        ResourceSample.objects.create(
            host="web-1",
            cpu_percent=cpu,
            memory_percent=30.0,
            disk_read_bytes=0,
            disk_write_bytes=0,
            created_at=now - timedelta(minutes=minutes),
        )


def test_the_dashboard_draws_its_charts(signed_in, web, measured):
    page = signed_in
    with watching(page) as problems:
        page.goto(f"{web}/admin/perf/dashboard/", wait_until="networkidle")
        page.wait_for_selector("#perf-resource-charts .uplot")

    assert page.locator("#perf-operation-chart > .uplot").count() == 1
    titles = page.locator("#perf-resource-charts .perf-chart-title").all_inner_texts()
    assert titles == [
        "web-1: CPU and memory (%)",
        "web-1: Load and task queue",
        "web-1: Disk I/O (bytes/s)",
        "web-1: Open files",
    ]
    assert page.locator("#perf-resource-charts .uplot").count() == 4
    assert "Could not load" not in page.inner_text("body")
    assert problems.all() == []


@pytest.mark.parametrize("since", ["2h", "3d"])
def test_the_charts_x_axis_spans_the_chosen_window(signed_in, web, measured, since):
    page = signed_in
    page.goto(f"{web}/admin/perf/dashboard/?since={since}", wait_until="networkidle")
    page.wait_for_selector("#perf-resource-charts .uplot")

    root = page.locator("#perf-dashboard-page")
    window = [
        datetime.fromisoformat(root.get_attribute(name)).timestamp()
        for name in ("data-since", "data-until")
    ]
    span = {"2h": 2 * 3600, "3d": 3 * 86400}[since]
    assert window[1] - window[0] == pytest.approx(span, abs=1)
    for chart in ("#perf-operation-chart", "#perf-resource-charts .perf-chart >> nth=0"):
        drawn = page.locator(chart).get_attribute("data-x-range")
        assert [float(edge) for edge in drawn.split(",")] == pytest.approx(window, abs=1)
