from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from perf.analysis import (
    InvalidWindowError,
    OperationSummary,
    median_by_skill,
    summary,
    summary_of,
)
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


def test_summary_gives_percentile_cont_values_per_operation(now):
    samples_create("skill_load", [float(n) for n in range(100, 0, -1)])
    samples_create("marketplace_search", [float(n) for n in range(1, 11)])
    Sample_failed = samples_create("marketplace_search", [20.0], ok=False)
    assert len(Sample_failed) == 1

    found = {item.operation: item for item in summary()}

    assert list(found) == ["marketplace_search", "skill_load"]
    load = found["skill_load"]
    assert (load.count, load.error_count, load.minimum, load.maximum) == (100, 0, 1.0, 100.0)
    assert load.average == pytest.approx(50.5)
    assert load.p50 == pytest.approx(50.5)
    assert load.p95 == pytest.approx(95.05)
    assert load.p99 == pytest.approx(99.01)
    search = found["marketplace_search"]
    assert (search.count, search.error_count, search.maximum) == (11, 1, 20.0)
    assert search.p50 == pytest.approx(6.0)
    assert search.p95 == pytest.approx(15.0)
    assert search.p99 == pytest.approx(19.0)


def test_summary_of_one_sample_is_that_sample():
    samples_create("hot_reload", [0.25])

    assert summary_of("hot_reload") == OperationSummary(
        "hot_reload", 1, 0, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25
    )


def test_summary_counts_since_inclusive_and_until_exclusive(now):
    samples_create("skill_update", [1.0, 2.0, 3.0, 4.0], at=now)  # at now-4s … now-1s

    found = summary_of(
        "skill_update", since=now - timedelta(seconds=3), until=now - timedelta(seconds=1)
    )

    assert (found.count, found.minimum, found.maximum) == (2, 2.0, 3.0)


def test_summary_filters_by_operation_and_skill_version():
    samples_create("skill_run", [1.0, 1.0], skill="a", version="1")
    samples_create("skill_run", [5.0], skill="a", version="2")
    samples_create("skill_load", [9.0], skill="a", version="2")

    found = summary(operation="skill_run", skill="a", version="2")

    assert [(item.operation, item.count, item.p50) for item in found] == [("skill_run", 1, 5.0)]


def test_summary_of_an_operation_without_samples_is_none():
    assert summary_of("never_measured") is None
    assert summary(operation="never_measured") == []


def test_summary_refuses_a_window_that_ends_before_it_starts(now):
    with pytest.raises(InvalidWindowError):
        summary(since=now, until=now - timedelta(seconds=1))
    with pytest.raises(InvalidWindowError):
        summary(since=now, until=now)


def test_summary_takes_a_constant_number_of_queries(django_assert_max_num_queries):
    for operation in ("a", "b", "c", "d"):
        samples_create(operation, [1.0, 2.0, 3.0])

    with django_assert_max_num_queries(4):
        assert len(summary()) == 4


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's partial-index rule")
def test_median_by_skill_reads_samples_through_the_skill_index():
    with CaptureQueriesContext(connection) as captured:
        median_by_skill(operation="skill_run", versions={"frame-stats": "abc", "text-tool": "def"})
    [query] = captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
        plan = " | ".join(row[-1] for row in cursor.fetchall())
    assert "SEARCH perf_sample USING INDEX perf_sample_skill_version (skill=?)" in plan
