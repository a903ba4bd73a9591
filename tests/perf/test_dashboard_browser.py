"""The dashboard's charts drawn by a real browser: the page's script fetches the chart
endpoints and uPlot (vendored) draws them."""

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from perf.models import ResourceSample
from tests.perf.conftest import samples_create

CHROMIUM = shutil.which("chromium")


def dom_of(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--window-size=1280,2000",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
@pytest.mark.urls("tests.perf.browser_urls")
@pytest.mark.django_db(transaction=True)
def test_in_a_real_browser_the_dashboard_draws_its_charts(live_server, staff_user):
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

    browser = dom_of(
        f"{live_server.url}/test-sign-in/{staff_user.username}/?next=/admin/perf/dashboard/"
    )
    dom = browser.stdout

    assert 'id="perf-dashboard-page"' in dom, browser.stderr[-2000:]
    operation_chart = dom[dom.index('id="perf-operation-chart"') :]
    assert re.match(r'id="perf-operation-chart"><div class="uplot', operation_chart), (
        operation_chart[:500]
    )
    resource_charts = dom[dom.index('id="perf-resource-charts"') :]
    titles = re.findall(r'class="perf-chart-title">([^<]+)<', resource_charts)
    assert titles == [
        "web-1: CPU and memory (%)",
        "web-1: Load and task queue",
        "web-1: Disk I/O (bytes/s)",
        "web-1: Open files",
    ]
    assert resource_charts.count('class="uplot') == 4
    assert "Could not load" not in dom
