from io import StringIO

import pytest
from django.core.management import call_command

from perf.benchmarking import benchmarks_run
from perf.models import Baseline
from perf.recording import buffer
from skills.models import Environment, Skill

pytestmark = pytest.mark.django_db


def test_operations_without_data_on_the_running_system_are_skipped_not_invented():
    results = {
        r.operation: r
        for r in benchmarks_run(
            operations=["marketplace_search", "environment_cache_hit", "dependency_resolution"],
            rounds=2,
        )
    }

    assert results["marketplace_search"].skipped == "no approved skill in the catalog"
    assert results["environment_cache_hit"].skipped == "no ready environment"
    assert results["dependency_resolution"].skipped == "no approved Python skill with requirements"
    assert not any(result.is_measured for result in results.values())


def test_platform_operations_are_measured_on_the_catalog_and_environments(tmp_path):
    Skill.objects.create(slug="csv-tools", category="data", type="utility", status="approved")
    location = tmp_path / "env"
    (location / "bin").mkdir(parents=True)
    (location / "bin" / "python").write_text("")
    Environment.objects.create(
        key="k" * 64,
        backend="uv",
        interpreter="cpython-3.12",
        platform="linux",
        policy_version="1",
        status="ready",
        location=str(location),
    )
    buffer.clear()

    results = benchmarks_run(operations=["marketplace_search", "environment_cache_hit"], rounds=3)

    assert [(r.operation, r.rounds, r.skipped) for r in results] == [
        ("marketplace_search", 3, ""),
        ("environment_cache_hit", 3, ""),
    ]
    assert all(0 < r.minimum <= r.median <= r.maximum for r in results)
    # The operations' own samples are not kept: a benchmark is not traffic.
    assert len(buffer) == 0
    assert buffer.enabled is True


def test_set_baseline_skips_what_was_not_measured(tmp_path):
    Skill.objects.create(slug="csv-tools", category="data", type="utility", status="approved")
    out = StringIO()

    call_command(
        "perf",
        "benchmark",
        "--operation",
        "marketplace_search",
        "--operation",
        "environment_cache_hit",
        "--rounds",
        "2",
        "--set-baseline",
        stdout=out,
    )

    output = out.getvalue()
    assert "environment_cache_hit: not measured (no ready environment)" in output
    assert "Set 1 baseline(s) from this run." in output
    baseline = Baseline.objects.get()
    assert (baseline.operation, baseline.source, baseline.count) == (
        "marketplace_search",
        "benchmark",
        2,
    )
