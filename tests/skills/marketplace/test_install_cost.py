from datetime import UTC, datetime

import pytest

from perf.models import Sample
from skills.installer.builder import spec_for
from skills.marketplace.search import skill_search
from skills.models import Environment, EnvironmentStatus
from tests.skills.marketplace.conftest import skill_create

pytestmark = pytest.mark.django_db

BUILT_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def environment_create(requirements: list[str], *, location: str, status: str) -> Environment:
    spec = spec_for(language="python", requirements=requirements)
    return Environment.objects.create(
        key=spec.key,
        language="python",
        backend=spec.backend,
        requirements=list(spec.requirements),
        interpreter=spec.interpreter.version,
        platform=spec.interpreter.platform,
        policy_version=spec.policy_version,
        status=status,
        location=location,
        size_bytes=48_000_000,
        build_seconds=0.42,
        ready_at=BUILT_AT if status == EnvironmentStatus.READY else None,
    )


def built_location(tmp_path, name: str) -> str:
    (tmp_path / name / "bin").mkdir(parents=True)
    (tmp_path / name / "bin" / "python").touch()
    return str(tmp_path / name)


def cost_of(slug: str, **search):
    page = skill_search(use_cache=False, **search)
    return next(item.cost for item in page.items if item.slug == slug)


def test_a_built_environment_is_warm_with_its_size_and_build_time(tmp_path):
    skill_create("frame-stats", requirements=["pandas", "numpy>=2"])
    environment = environment_create(
        ["numpy>=2", "pandas"], location=built_location(tmp_path, "env"), status="ready"
    )
    cost = cost_of("frame-stats")
    assert cost.package_count == 2
    assert cost.environment_key == environment.key
    assert cost.environment_status == "ready"
    assert cost.is_warm is True
    assert (cost.size_bytes, cost.build_seconds, cost.built_at) == (48_000_000, 0.42, BUILT_AT)


def test_an_environment_whose_files_are_gone_is_not_warm(tmp_path):
    skill_create("frame-stats", requirements=["pandas"])
    environment_create(["pandas"], location=str(tmp_path / "deleted"), status="ready")
    cost = cost_of("frame-stats")
    assert (cost.environment_status, cost.is_warm) == ("ready", False)


def test_a_skill_never_installed_here_says_so():
    skill_create("frame-stats", requirements=["pandas"])
    skill_create("no-packages")
    cost = cost_of("frame-stats")
    assert cost.package_count == 1
    assert cost.environment_key == spec_for(language="python", requirements=["pandas"]).key
    assert (cost.environment_status, cost.is_warm, cost.size_bytes) == (None, False, None)
    assert cost_of("no-packages").package_count == 0


def test_requirements_refused_here_have_no_environment(settings):
    settings.ATOM_POLICY_DENY = ["pandas"]
    skill_create("frame-stats", requirements=["pandas"])
    cost = cost_of("frame-stats")
    assert (cost.package_count, cost.environment_key, cost.is_warm) == (1, None, False)


def test_the_run_time_is_the_median_of_the_current_versions_successful_runs():
    skill = skill_create("frame-stats")
    current = skill.current_version.content_hash
    for seconds in (0.4, 0.1, 0.3, 0.2):
        Sample.objects.create(
            operation="skill_run", duration=seconds, skill=skill.slug, version=current
        )
    Sample.objects.create(operation="skill_run", duration=9.0, skill=skill.slug, version="older")
    Sample.objects.create(
        operation="skill_run", duration=9.0, skill=skill.slug, version=current, ok=False
    )
    Sample.objects.create(operation="skill_load", duration=9.0, skill=skill.slug, version=current)
    cost = cost_of("frame-stats")
    assert cost.run_p50_seconds == pytest.approx(0.25)
    assert cost.run_samples == 4


def test_a_skill_never_run_has_no_run_time():
    skill_create("frame-stats")
    cost = cost_of("frame-stats")
    assert (cost.run_p50_seconds, cost.run_samples) == (None, 0)


@pytest.mark.parametrize("count", [3, 60])
def test_an_api_page_costs_the_same_queries_whatever_its_size(
    client, settings, tmp_path, count, django_assert_num_queries
):
    settings.MARKETPLACE_CACHE_TTL = 0
    for n in range(count):
        skill = skill_create(f"tool-{n:02}", requirements=[f"package-{n % 4}"])
        Sample.objects.create(
            operation="skill_run", duration=0.01, skill=skill.slug, version=skill.slug
        )
    environment_create(["package-1"], location=built_location(tmp_path, "env"), status="ready")
    skill_search()  # the catalog summary, once per catalog generation
    # The page, its environments, its run times.
    with django_assert_num_queries(3):
        response = client.get("/api/marketplace/skills", {"page_size": 100})
    items = response.json()["items"]
    assert len(items) == count
    assert [item["cost"]["is_warm"] for item in items[:3]] == [False, True, False]
    assert items[1]["cost"]["size_bytes"] == 48_000_000
    assert {item["cost"]["run_samples"] for item in items} == {1}


def test_the_page_shows_what_each_result_costs(client, tmp_path):
    skill = skill_create("frame-stats", requirements=["pandas", "numpy>=2"])
    skill_create("text-tool", requirements=["regex"])
    environment_create(
        ["numpy>=2", "pandas"], location=built_location(tmp_path, "env"), status="ready"
    )
    Sample.objects.create(
        operation="skill_run", duration=0.0123, skill=skill.slug, version=skill.slug
    )
    html = client.get("/marketplace/").content.decode()
    assert (
        '2 packages · <b class="warm">warm here</b> (45.8\xa0MB, built in 0.42 s)'
        " · runs in 0.012 s (p50 of 1)" in html
    )
    assert "1 package · not built here yet" in html
