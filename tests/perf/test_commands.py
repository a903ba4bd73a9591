import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from perf.models import Baseline, HourlyRollup, Sample
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("perf", *args, stdout=out)
    return out.getvalue()


def test_analyze_gives_a_verdict_per_operation(settings):
    settings.PERF_MIN_SAMPLES = 1
    samples_create("skill_load", [2.0, 2.0], at=timezone.now(), skill="slow-skill")  # budget 1 s
    samples_create("hot_reload", [0.01], at=timezone.now())

    found = json.loads(_run("analyze", "--json"))

    verdicts = {item["operation"]: item["verdict"] for item in found["operations"]}
    assert verdicts == {"hot_reload": "ok", "skill_load": "over budget"}
    assert found["slowest_skills"][0]["name"] == "slow-skill"


def test_analyze_prints_a_table():
    samples_create("skill_load", [0.002], at=timezone.now())

    output = _run("analyze")

    assert "skill_load" in output
    assert "2.00" in output  # p50 in milliseconds


def test_analyze_refuses_a_threshold_under_one():
    with pytest.raises(CommandError, match="--threshold: threshold must be at least 1"):
        _run("analyze", "--threshold", "0.5")


def test_analyze_refuses_an_inverted_window():
    with pytest.raises(CommandError, match="--since"):
        _run("analyze", "--since", "1h", "--until", "2h")


def test_rollup_reports_what_it_did():
    samples_create("skill_run", [1.0], at=timezone.now() - timedelta(hours=2))

    output = _run("rollup")

    assert output.startswith("Rolled up 1 hour(s) into 1 rollup(s)")
    assert HourlyRollup.objects.count() == 1


def test_monitor_refuses_a_threshold_outside_1_to_100():
    with pytest.raises(CommandError, match="--alert-threshold"):
        _run("monitor", "--alert-threshold", "0.5", "--duration", "1")


def test_monitor_prints_resources_and_percentiles():
    samples_create("marketplace_search", [0.004], at=timezone.now())

    output = _run("monitor", "--duration", "0.1", "--interval", "0.1", "--alert-threshold", "100")

    assert "cpu" in output
    assert "mem" in output
    assert "marketplace_search" in output


def test_benchmark_writes_json_and_can_set_baselines(tmp_path):
    target = tmp_path / "results.json"

    _run(
        "benchmark",
        "--operation",
        "timing_sample",
        "--rounds",
        "2",
        "--output",
        str(target),
        "--set-baseline",
    )

    [result] = json.loads(target.read_text())
    assert (result["operation"], result["rounds"]) == ("timing_sample", 2)
    baseline = Baseline.objects.get(operation="timing_sample")
    assert (baseline.source, baseline.p50) == ("benchmark", result["median"])
    assert not Sample.objects.filter(operation="benchmark_timing_sample").exists()


def test_benchmark_of_an_unknown_operation_is_refused():
    with pytest.raises(CommandError, match="no benchmark for nothing"):
        _run("benchmark", "--operation", "nothing")


def test_optimize_recommends_preloading_skills_with_many_cold_loads():
    samples_create("skill_load", [0.02] * 6, at=timezone.now(), skill="pdf-tools")

    output = _run("optimize")

    assert "[preload] preload pdf-tools in its runner pool" in output
    assert "6 cold loads, mean 20.0 ms each" in output
