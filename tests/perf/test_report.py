import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from perf.alerts import alert_raise
from perf.budgets import baseline_set
from perf.models import ResourceSample
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


def report(path, *args) -> str:
    out = StringIO()
    call_command("perf", "report", "--html", str(path), *args, stdout=out)
    return out.getvalue()


def test_the_report_is_one_self_contained_file_with_the_real_figures(tmp_path):
    now = timezone.now()
    samples_create("skill_load", [0.1, 0.2, 0.3, 0.4], at=now)
    samples_create("marketplace_search", [0.004] * 5, at=now, skill="csv-tools")
    baseline_set(operation="skill_load", p50=0.11, p95=0.12, p99=0.13, count=7, source="manual")
    alert_raise(
        kind="regression",
        operation="skill_load",
        severity="critical",
        message="skill_load p99 0.397 s is 3.05× its baseline",
        observed=0.397,
        threshold=0.195,
    )
    ResourceSample.objects.create(
        host="web-1",
        cpu_percent=42.5,
        memory_percent=63.2,
        disk_read_bytes=0,
        disk_write_bytes=0,
        created_at=now - timedelta(minutes=2),
    )
    target = tmp_path / "report.html"

    output = report(target)

    assert output.startswith(f"Wrote {target} (")
    html = re.sub(r">\s+<", "><", target.read_text())
    # Self-contained: no script, stylesheet link, image, frame or URL to fetch.
    for forbidden in (
        "<script",
        "<link",
        "<img",
        "<iframe",
        "http://",
        "https://",
        "url(",
        "@import",
    ):
        assert forbidden not in html
    assert "<style>" in html
    row = html[
        html.index("<td>skill_load</td>") : html.index("</tr>", html.index("<td>skill_load</td>"))
    ]
    assert '<td class="n">4</td>' in row  # n
    assert '<td class="n">250</td>' in row  # mean and p50, ms
    assert '<td class="n">385</td><td class="n">397</td>' in row  # p95, p99
    assert "1000 (p95)" in row  # the seeded budget of 1 s
    assert "110 / 120 / 130" in row  # baseline
    assert "<td>regressed</td>" in row
    assert "skill_load p99 0.397 s is 3.05× its baseline" in html
    assert "<td>42.5%</td>" in html.replace(' class="n"', "")
    assert html.count("<svg") == 2 + 3  # two operations, three charts of one host
    assert "skill_load: p50 / p95 / p99 per bucket (ms)" in html
    assert "<td>csv-tools</td>" in html
    assert not list(tmp_path.glob(".*partial"))


def test_the_report_of_an_empty_window_says_so(tmp_path):
    target = tmp_path / "empty.html"

    report(target, "--since", "1h")

    html = target.read_text()
    assert "No sample in this window." in html
    assert "No open alert." in html
    assert "<svg" not in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2h", "--until", "3h"], "--since"),
        (["--until", "tomorrowish"], "--until"),
        (["--threshold", "0.9"], "--threshold"),
    ],
)
def test_the_report_refuses_bad_input_and_writes_nothing(tmp_path, args, message):
    target = tmp_path / "report.html"

    with pytest.raises(CommandError, match=message):
        report(target, *args)

    assert list(tmp_path.iterdir()) == []


def test_the_report_refuses_a_missing_folder(tmp_path):
    with pytest.raises(CommandError, match="--html: the folder"):
        report(tmp_path / "nowhere" / "report.html")
