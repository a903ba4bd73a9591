"""The notebook's DataFrames: typed columns, tz-aware times, the same figures as the API, and
bad input refused with the field at fault (or the closest names)."""

from datetime import datetime, timedelta

import pandas as pd
import pytest
from django.utils import timezone

import atom
from perf.analysis import summary as summary_compute
from perf.budgets import baseline_set, budget_set
from perf.models import Alert, Sample

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def samples_write(operation: str, durations: list[float], *, end: datetime, **fields) -> None:
    Sample.objects.bulk_create(
        Sample(
            operation=operation,
            duration=duration,
            created_at=end - timedelta(seconds=len(durations) - index),
            **fields,
        )
        for index, duration in enumerate(durations)
    )


def test_skills_are_the_marketplace_search_with_typed_columns(publish):
    publish("shout")
    publish("whisper", "def run(text):\n    return text.lower()\n")

    found = atom.skills("shout")
    every = atom.skills()

    assert found["slug"].tolist() == ["shout"]
    assert sorted(every["slug"]) == ["shout", "whisper"]
    assert str(every["slug"].dtype) == "string"
    assert str(every["install_count"].dtype) == "Int64"
    assert str(every["is_warm"].dtype) == "boolean"
    assert str(every["created_at"].dtype).startswith("datetime64")
    assert str(every["created_at"].dt.tz) == "UTC"
    assert every["is_warm"].tolist() == [False, False]
    assert atom.skills(category="text")["slug"].size == 2
    assert atom.skills(category="nothing-here").empty


def test_a_bad_search_is_a_value_error_naming_the_field(db):
    with pytest.raises(ValueError, match=r"^sort: must be one of"):
        atom.skills(sort="fastest")


def test_an_unknown_skill_or_workflow_names_the_closest_ones(publish):
    publish("shout")

    with pytest.raises(LookupError, match=r"^no skill 'shuot'; closest: shout$"):
        atom.skill("shuot")
    with pytest.raises(LookupError, match=r"^no workflow 'etl'$"):
        atom.runs("etl")
    with pytest.raises(LookupError, match=r"^no operation 'skil_run'; closest: skill_run"):
        atom.samples("skil_run")


def test_samples_are_the_window_oldest_first_in_the_servers_time_zone(settings):
    end = timezone.now()
    samples_write("skill_run", [0.1, 0.2, 0.3], end=end, skill="shout")
    samples_write("skill_run", [9.0], end=end - timedelta(hours=3))

    recent = atom.samples("skill_run", since="1h")
    # The last sample is written a second before `end`: until is exclusive.
    everything = atom.samples(
        "skill_run", since=timedelta(hours=4), until=end - timedelta(seconds=1)
    )

    assert recent["duration"].tolist() == [0.1, 0.2, 0.3]
    assert recent["skill"].tolist() == ["shout"] * 3
    assert str(recent["duration"].dtype) == "Float64"
    assert recent["created_at"].is_monotonic_increasing
    assert str(recent["created_at"].dt.tz) == settings.TIME_ZONE
    assert everything["duration"].tolist() == [9.0, 0.1, 0.2]


def test_a_window_in_the_wrong_order_names_since_and_until(db):
    with pytest.raises(ValueError, match=r"^since \(.*\) is at or after until \(.*\)"):
        atom.samples("skill_run", since="1h", until="2h")
    with pytest.raises(ValueError, match=r"^since: 'yesterday' is neither"):
        atom.summary(since="yesterday")
    with pytest.raises(ValueError, match=r"^until: give a datetime"):
        atom.samples("skill_run", until=3)


def test_the_summary_is_the_apis_with_its_budget_and_baseline():
    end = timezone.now()
    samples_write("skill_run", [0.1, 0.2, 0.3, 0.4], end=end)
    samples_write("skill_load", [1.0, 2.0], end=end)
    budget_set(operation="skill_run", seconds=0.25, statistic="p95")
    baseline_set(operation="skill_run", p50=0.1, p95=0.2, p99=0.3, count=4, source="manual")

    frame = atom.summary(since="1h")
    expected = {
        item.operation: item for item in summary_compute(since=frame.since, until=frame.until)
    }

    rows = frame.set_index("operation")
    assert sorted(rows.index) == ["skill_load", "skill_run"]
    for operation, item in expected.items():
        assert rows.loc[operation, "p95"] == pytest.approx(item.p95)
        assert rows.loc[operation, "count"] == item.count
    assert rows.loc["skill_run", "budget"] == 0.25
    assert bool(rows.loc["skill_run", "is_over_budget"]) is True
    assert rows.loc["skill_run", "baseline_p95"] == 0.2
    assert pd.isna(rows.loc["skill_load", "budget"])
    html = frame._repr_html_()
    assert "OVER BUDGET" in html
    assert "skill_load" in html


def test_regressions_and_alerts_are_frames(settings):
    settings.PERF_MIN_SAMPLES = 1
    end = timezone.now()
    samples_write("skill_run", [1.0] * 5, end=end)
    baseline_set(operation="skill_run", p50=0.1, p95=0.1, p99=0.1, count=5, source="manual")
    Alert.objects.create(
        kind="budget",
        operation="skill_run",
        severity="warning",
        message="over",
        observed=1.0,
        threshold=0.5,
    )

    verdicts = atom.regressions(since="1h")
    open_alerts = atom.alerts()

    [verdict] = verdicts.to_dict("records")
    assert verdict["kind"] == "operation"
    assert verdict["observed"] == 1.0
    assert verdict["reference"] == 0.1
    assert bool(verdict["is_breached"]) is True
    assert open_alerts["message"].tolist() == ["over"]
    assert atom.alerts(state="closed").empty
    with pytest.raises(ValueError, match="^state: "):
        atom.alerts(state="shut")
    with pytest.raises(ValueError, match="^threshold: "):
        atom.regressions(threshold=0.5)


def test_empty_frames_keep_their_column_types(db):
    runs = atom.runs()

    assert runs.empty
    assert isinstance(runs["created_at"].dtype, pd.DatetimeTZDtype)
    assert str(runs["created_at"].dt.tz) == "UTC"
    assert str(runs["steps"].dtype) == "Int64"
    assert str(atom.installs()["cache_hit"].dtype) == "boolean"
    assert str(atom.environments()["size_bytes"].dtype) == "Int64"
