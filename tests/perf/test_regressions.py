from datetime import timedelta

import pytest
from django.utils import timezone

from perf.budgets import baseline_set
from perf.models import Alert, Baseline, Budget
from perf.regressions import (
    ThresholdInvalidError,
    budgets_check,
    checks_run,
    regressions_check,
    regressions_compute,
    version_regressions_check,
)
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _baseline(operation: str, p99: float) -> Baseline:
    return baseline_set(operation=operation, p50=p99, p95=p99, p99=p99, count=100, source="manual")


def _window(now):
    return {"since": now - HOUR, "until": now + timedelta(seconds=1)}


def test_p99_over_one_and_a_half_times_the_baseline_raises_one_alert(now, settings):
    settings.PERF_MIN_SAMPLES = 10
    _baseline("skill_load", 0.1)
    samples_create("skill_load", [0.2] * 20, at=now)

    verdicts = regressions_check(**_window(now))
    regressions_check(**_window(now))  # a second check refreshes the open alert

    assert [(v.operation, v.observed, v.limit, v.is_breached) for v in verdicts] == [
        ("skill_load", pytest.approx(0.2), pytest.approx(0.15), True)
    ]
    alert = Alert.objects.get()
    assert (alert.kind, alert.operation, alert.severity) == ("regression", "skill_load", "warning")
    assert alert.observed == pytest.approx(0.2)
    assert alert.threshold == pytest.approx(0.15)
    assert "2.00× its baseline" in alert.message


def test_a_regression_alert_is_closed_when_the_operation_is_back_under(now, settings):
    settings.PERF_MIN_SAMPLES = 10
    _baseline("skill_load", 0.1)
    samples_create("skill_load", [0.2] * 20, at=now - 2 * HOUR)
    regressions_check(since=now - 3 * HOUR, until=now - HOUR)
    samples_create("skill_load", [0.12] * 20, at=now)

    regressions_check(**_window(now))

    alert = Alert.objects.get()
    assert alert.closed_at is not None
    assert Alert.objects.filter(closed_at__isnull=True).count() == 0


def test_a_new_breach_after_a_closed_alert_opens_a_new_alert(now, settings):
    settings.PERF_MIN_SAMPLES = 10
    _baseline("skill_load", 0.1)
    samples_create("skill_load", [0.2] * 10, at=now - 2 * HOUR)
    regressions_check(since=now - 3 * HOUR, until=now - HOUR)
    Alert.objects.update(closed_at=now - HOUR)
    samples_create("skill_load", [0.5] * 10, at=now)

    regressions_check(**_window(now))

    assert Alert.objects.count() == 2
    reopened = Alert.objects.get(closed_at__isnull=True)
    assert reopened.severity == "critical"  # 0.5 s is over twice the 0.15 s limit


def test_too_few_samples_give_no_verdict_and_no_alert(now, settings):
    settings.PERF_MIN_SAMPLES = 20
    _baseline("skill_load", 0.1)
    samples_create("skill_load", [5.0] * 19, at=now)

    assert regressions_check(**_window(now)) == []
    assert Alert.objects.count() == 0


def test_the_threshold_and_statistic_can_be_chosen(now, settings):
    settings.PERF_MIN_SAMPLES = 1
    baseline_set(operation="hot_reload", p50=0.1, p95=0.2, p99=0.3, count=5, source="manual")
    samples_create("hot_reload", [0.25] * 5, at=now)

    verdict = regressions_compute(threshold=2.0, statistic="p50", **_window(now))[0]

    assert (verdict.statistic, verdict.reference, verdict.limit) == ("p50", 0.1, 0.2)
    assert verdict.is_breached is True


@pytest.mark.parametrize("threshold", [0.99, 0.0, -1.0])
def test_a_threshold_under_one_is_refused(threshold, now):
    with pytest.raises(ThresholdInvalidError, match="at least 1"):
        regressions_compute(threshold=threshold, **_window(now))


def test_a_budget_breach_raises_an_alert_and_closes_when_back_under(now, settings):
    settings.PERF_MIN_SAMPLES = 5
    Budget.objects.filter(operation="marketplace_search").update(seconds=0.1, statistic="p95")
    samples_create("marketplace_search", [0.15] * 5, at=now - 2 * HOUR)
    samples_create("marketplace_search", [0.05] * 5, at=now)

    budgets_check(since=now - 3 * HOUR, until=now - HOUR)
    opened = Alert.objects.get(kind="budget")
    budgets_check(**_window(now))

    assert opened.operation == "marketplace_search"
    assert opened.message == "marketplace_search p95 0.15 s is over its budget of 0.1 s"
    opened.refresh_from_db()
    assert opened.closed_at is not None


def test_a_slower_skill_version_raises_an_alert_naming_both_versions_and_the_lockfile_changes(
    now, settings
):
    settings.PERF_MIN_SAMPLES = 5
    samples_create("skill_run", [0.1] * 5, at=now - 2 * HOUR, skill="csv-stats", version="1.0")
    samples_create("skill_run", [0.3] * 5, at=now, skill="csv-stats", version="1.1")
    lockfiles = {
        "1.0": "pandas==2.2.0\nnumpy==1.26.4\n",
        "1.1": "pandas==2.2.3 \\\n    --hash=sha256:abc\nnumpy==1.26.4\npytz==2024.1\n",
    }

    verdicts = version_regressions_check(
        **_window(now), lockfile_lookup=lambda skill, version: lockfiles[version]
    )

    assert [(v.skill, v.previous_version, v.version, v.is_breached) for v in verdicts] == [
        ("csv-stats", "1.0", "1.1", True)
    ]
    alert = Alert.objects.get()
    assert (alert.kind, alert.subject) == ("version", "csv-stats")
    assert "version 1.1 p95 0.3 s is 3.00× version 1.0's 0.1 s" in alert.message
    assert alert.message.endswith("environment: pandas 2.2.0 → 2.2.3, +pytz 2024.1")


def test_a_version_as_fast_as_the_previous_one_raises_nothing(now, settings):
    settings.PERF_MIN_SAMPLES = 5
    samples_create("skill_run", [0.1] * 5, at=now - 2 * HOUR, skill="a", version="1")
    samples_create("skill_run", [0.14] * 5, at=now, skill="a", version="2")

    verdicts = version_regressions_check(**_window(now))

    assert [v.is_breached for v in verdicts] == [False]
    assert Alert.objects.count() == 0


def test_checks_run_judges_the_last_hour_of_every_operation(settings):
    settings.PERF_MIN_SAMPLES = 1
    settings.PERF_CHECK_WINDOW = 3600
    _baseline("skill_update", 0.1)
    samples_create("skill_update", [0.9], at=timezone.now())  # seeded budget: 0.5 s

    assert checks_run() == {"regressions": 1, "budgets": 1, "versions": 0}
    assert set(Alert.objects.values_list("kind", flat=True)) == {"regression", "budget"}


def test_a_version_alert_reads_the_lockfiles_of_the_environments_the_versions_ran_in(now, settings):
    from skills.models import Environment, Skill, SkillVersion

    settings.PERF_MIN_SAMPLES = 5
    skill = Skill.objects.create(slug="csv-stats", category="data", type="utility")
    for number, content_hash in (("1.0.0", "a" * 64), ("1.1.0", "b" * 64)):
        SkillVersion.objects.create(
            skill=skill, version=number, content_hash=content_hash, filename="s.py", source="x"
        )
    for key, lockfile in (("env-old", "pandas==2.2.0\n"), ("env-new", "pandas==2.2.3\n")):
        Environment.objects.create(
            key=key,
            backend="uv",
            interpreter="cpython-3.12",
            platform="linux",
            policy_version="1",
            lockfile=lockfile,
        )
    old, new = (
        {"skill": "csv-stats", "version": "a" * 64},
        {"skill": "csv-stats", "version": "b" * 64},
    )
    samples_create("skill_run", [0.1] * 5, at=now - 2 * HOUR, environment_key="env-old", **old)
    samples_create("skill_run", [0.4] * 5, at=now, environment_key="env-new", **new)

    [verdict] = version_regressions_check(**_window(now))  # the default lockfile lookup

    assert (verdict.previous_name, verdict.name) == (
        f"1.0.0 ({'a' * 12})",
        f"1.1.0 ({'b' * 12})",
    )
    alert = Alert.objects.get()
    assert f"version 1.1.0 ({'b' * 12}) p95 0.4 s is 4.00× version 1.0.0 ({'a' * 12})'s" in (
        alert.message
    )
    assert alert.message.endswith("environment: pandas 2.2.0 → 2.2.3")
