import json

import pytest

from perf.targets import (
    TARGET_LIST,
    TARGETS,
    result_from_durations,
    results_read,
    results_write,
    table_rows,
    table_text,
)


def test_every_design_target_is_listed_once_with_a_limit_or_as_relative():
    assert len(TARGETS) == len(TARGET_LIST) == 32
    relative = [target.key for target in TARGET_LIST if target.limit is None]
    assert relative == ["install_batch_of_3"]
    assert TARGETS["timing_sample_overhead"].limit == pytest.approx(5e-6)
    assert TARGETS["hot_reload"].statistic == "p95"


def test_a_median_target_is_judged_on_the_median_and_a_p95_target_on_the_p95():
    fast_median = result_from_durations("skill_load_cold", [0.001] * 9 + [0.5])
    slow_tail = result_from_durations("hot_reload", [0.01] * 90 + [0.2] * 10)

    assert fast_median.is_met is True
    assert slow_tail.is_met is False
    assert slow_tail.observed == pytest.approx(0.2)


def test_a_relative_target_is_judged_only_with_the_limit_given_at_run_time():
    unjudged = result_from_durations("install_batch_of_3", [2.0])
    judged = result_from_durations("install_batch_of_3", [2.0], limit=1.3)

    assert unjudged.is_met is None
    assert judged.is_met is False


def test_an_unknown_target_is_refused():
    with pytest.raises(KeyError, match="no_such_target"):
        result_from_durations("no_such_target", [1.0])


def test_the_table_lists_every_target_and_says_which_were_not_run():
    rows = table_rows([result_from_durations("skill_update", [0.004, 0.006])])

    assert [row[0] for row in rows] == [target.key for target in TARGET_LIST]
    update = next(row for row in rows if row[0] == "skill_update")
    assert update == ["skill_update", "5.00 ms", "5.90 ms", "< 500 ms (535 ms seen)", "≤ 10 ms",
                      "met"]  # fmt: skip
    assert next(row for row in rows if row[0] == "hot_reload")[-1] == "not run"


def test_a_memory_target_is_judged_and_shown_in_bytes():
    rows = table_rows([result_from_durations("runner_pool_idle_memory", [430 * 2**20])])

    memory = next(row for row in rows if row[0] == "runner_pool_idle_memory")
    assert memory == ["runner_pool_idle_memory", "430 MiB", "430 MiB", "—", "≤ 1 GB", "met"]


def test_results_round_trip_through_json_and_compare_with_the_previous_run(tmp_path):
    path = tmp_path / "targets.json"
    results_write([result_from_durations("skill_update", [0.010])], path)

    previous = results_read(path)
    text = table_text([result_from_durations("skill_update", [0.005])], previous)

    assert json.loads(path.read_text())["results"][0]["is_met"] is True
    assert "vs previous median" in text
    assert "-50% (was 10.00 ms)" in text
