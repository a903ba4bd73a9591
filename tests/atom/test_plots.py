"""An operation's percentiles over time, drawn with matplotlib against its budget and baseline."""

from datetime import timedelta

import matplotlib
import matplotlib.dates
import pytest
from django.utils import timezone

import atom
from perf.budgets import baseline_set, budget_set
from perf.models import Sample
from perf.series import operation_series

matplotlib.use("Agg")

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_plot_has_three_percentiles_a_budget_and_a_baseline():
    now = timezone.now()
    Sample.objects.bulk_create(
        Sample(operation="skill_run", duration=0.01 * (index % 7 + 1),
               created_at=now - timedelta(minutes=index))
        for index in range(50)
    )  # fmt: skip
    budget_set(operation="skill_run", seconds=0.05, statistic="p95")
    baseline_set(operation="skill_run", p50=0.02, p95=0.04, p99=0.06, count=50, source="manual")

    ax = atom.percentiles_plot("skill_run", since="2h", buckets=10)

    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["p50", "p95", "p99", "budget (p95)", "baseline p95"]
    since, until = (matplotlib.dates.num2date(limit) for limit in ax.get_xlim())
    series = operation_series(operation="skill_run", since=since, until=until, buckets=10)
    assert len(series) == 5  # the last 50 minutes of two hours, in 12-minute buckets
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx([p.p95 * 1e3 for p in series])
    assert list(ax.get_lines()[3].get_ydata()) == [50.0, 50.0]
    assert ax.get_title() == "skill_run: 50 samples"


def test_an_empty_window_is_a_plot_that_says_so(db):
    ax = atom.percentiles_plot("skill_run", since="1h")

    assert [text.get_text() for text in ax.texts] == ["no samples in this window"]
    with pytest.raises(ValueError, match=r"^since \("):
        atom.percentiles_plot("skill_run", since="1h", until="3h")
