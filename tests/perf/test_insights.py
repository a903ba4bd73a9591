from datetime import timedelta

import pytest

from perf.insights import agent_metrics, cache_hit_rates, slowest
from perf.optimize import recommendations
from tests.perf.conftest import samples_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def window(now):
    return {"since": now - timedelta(hours=1), "until": now + timedelta(seconds=1)}


def test_cache_hit_rates_of_environments_marketplace_and_loader(window):
    samples_create("environment_cache_hit", [0.001] * 3)
    samples_create("package_install", [1.0])
    # As skills.marketplace.search records them.
    samples_create(
        "marketplace_search", [0.001] * 3, context={"sort": "relevance", "cache_hit": True}
    )
    samples_create("marketplace_search", [0.01], context={"sort": "relevance", "cache_hit": False})
    samples_create("marketplace_search", [0.01], context={"sort": "relevance"})  # raised early
    # As a runner pool records them: a load or reload beside the run that needed it.
    samples_create("skill_run", [0.01] * 5, skill="a")
    samples_create("skill_load", [0.003], skill="a")
    samples_create("hot_reload", [0.002], skill="a")
    samples_create("skill_run", [0.5] * 2, skill="b", context={"backend": "docker"})

    rates = {rate.cache: (rate.hits, rate.total, rate.rate) for rate in cache_hit_rates(**window)}

    assert rates == {
        "environments": (3, 4, 0.75),
        "marketplace": (3, 4, 0.75),
        "loader": (3, 5, 0.6),
    }


def test_cache_hit_rates_of_an_empty_window_are_unknown(window):
    rates = {rate.cache: (rate.hits, rate.total, rate.rate) for rate in cache_hit_rates(**window)}

    assert rates == {
        "environments": (0, 0, None),
        "marketplace": (0, 0, None),
        "loader": (0, 0, None),
    }


def test_a_low_marketplace_hit_rate_recommends_a_longer_cache_ttl(window):
    samples_create("marketplace_search", [0.01] * 40, context={"cache_hit": False})
    samples_create("marketplace_search", [0.001] * 10, context={"cache_hit": True})

    [found] = [item for item in recommendations(**window) if item.kind == "cache_ttl"]

    assert (found.subject, found.evidence) == ("marketplace", "hit rate 20% over 50 searches")


def test_slowest_orders_subjects_by_mean_duration(window):
    samples_create("step_run", [0.1, 0.3], step="extract")
    samples_create("step_run", [0.5], step="load")

    found = [(s.name, s.count, s.average) for s in slowest(field="step", **window)]

    assert found == [("load", 1, 0.5), ("extract", 2, pytest.approx(0.2))]


def test_agent_metrics_count_tasks_success_and_mean_time(window):
    samples_create("step_run", [0.1, 0.3], agent="w1")
    samples_create("step_run", [0.2], agent="w1", ok=False)

    [figures] = agent_metrics(**window)

    assert (figures.agent, figures.tasks, figures.succeeded) == ("w1", 3, 2)
    assert figures.success_rate == pytest.approx(2 / 3)
    assert figures.mean_seconds == pytest.approx(0.2)


def test_recommendations_name_environments_to_prebuild_and_serial_dags(window):
    samples_create("package_install", [2.0, 4.0], environment_key="abc123")
    samples_create("workflow_validation", [0.001], workflow="etl", context={"depth": 8, "steps": 9})
    samples_create("marketplace_search", [0.01] * 60, context={"cache_hit": False})

    found = {item.kind: item for item in recommendations(**window)}

    assert found["prebuild"].evidence == "built 2 times, mean 3.00 s, slowest 4.00 s"
    assert found["dag"].subject == "etl"
    assert found["dag"].evidence.startswith("depth 8 for 9 steps: 1.12 steps per level")
    assert found["cache_ttl"].evidence == "hit rate 0% over 60 searches"


def test_agent_metrics_show_the_work_waiting_for_each_agent(window):
    from skills.models import Agent, Skill, SkillRun, SkillVersion

    skill = Skill.objects.create(slug="echo", category="text", type="utility")
    version = SkillVersion.objects.create(
        skill=skill, version="1.0.0", content_hash="h1", filename="echo.py", source="def run(): 1"
    )
    busy = Agent.objects.create(slug="busy", name="busy")
    Agent.objects.create(slug="idle", name="idle")
    for status in ("queued", "queued", "running", "succeeded"):
        SkillRun.objects.create(skill=skill, version=version, agent=busy, timeout=5, status=status)
    SkillRun.objects.create(skill=skill, version=version, agent=None, timeout=5)
    samples_create("skill_run", [0.1, 0.3], agent="idle")

    found = {figures.agent: figures for figures in agent_metrics(**window)}

    assert sorted(found) == ["busy", "idle"]
    assert (found["busy"].tasks, found["busy"].queued) == (0, 2)
    assert (found["idle"].tasks, found["idle"].queued) == (2, 0)
