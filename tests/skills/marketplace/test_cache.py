import pytest
from django.contrib.auth import get_user_model

from perf.models import Sample
from perf.recording import flush
from skills.catalog import skill_approve, skill_deprecate
from skills.importer import skills_import, sources_from_paths
from skills.models import Skill
from skills.search import skill_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("curator", password="pw-12345678", is_staff=True)


def slugs(page) -> list[str]:
    return [item.slug for item in page.items]


def test_a_repeated_search_is_served_from_the_cache(catalog, django_assert_num_queries):
    first = skill_search(query="pandas", category="data")
    with django_assert_num_queries(0):
        again = skill_search(query="  PANDAS ", category="data")
    assert again == first


def test_facets_are_reused_across_pages_and_sorts(catalog, django_assert_num_queries):
    skill_search(category="data")
    with django_assert_num_queries(2):  # the count and the page; both facets from the cache
        page = skill_search(category="data", sort="popularity", page=2, page_size=2)
    assert page.facets["type"] == {"analyze": 2, "extract": 1, "generate": 1, "transform": 1}


def test_the_cache_can_be_bypassed(catalog, django_assert_max_num_queries):
    skill_search(query="pandas")
    Skill.objects.filter(slug="csv-reader").delete()  # no announcement: the cache keeps it
    assert "csv-reader" in slugs(skill_search(query="pandas"))
    assert "csv-reader" not in slugs(skill_search(query="pandas", use_cache=False))


def test_an_import_invalidates_cached_searches(
    catalog, write_skill, django_capture_on_commit_callbacks
):
    assert skill_search(query="echo", status=None).total == 0
    sources, _ = sources_from_paths([write_skill("echo.py", name="echo-text").parent])
    with django_capture_on_commit_callbacks(execute=True):
        skills_import(sources=sources)
    assert slugs(skill_search(query="echo", status=None)) == ["echo-text"]


def test_approving_invalidates_cached_searches(catalog, staff, django_capture_on_commit_callbacks):
    assert skill_search(query="pandas").total == 4
    with django_capture_on_commit_callbacks(execute=True):
        skill_approve(skill=Skill.objects.get(slug="pandas-draft"), actor=staff)
    assert skill_search(query="pandas").total == 5
    assert skill_search(query="pandas", page=2).facets["category"] == {"data": 5}


def test_deprecating_invalidates_cached_searches(
    catalog, staff, django_capture_on_commit_callbacks
):
    assert skill_search(category="web").total == 1
    with django_capture_on_commit_callbacks(execute=True):
        skill_deprecate(skill=Skill.objects.get(slug="http-fetch"), actor=staff)
    assert skill_search(category="web").total == 0
    assert slugs(skill_search(status="deprecated")) == ["http-fetch"]


def test_a_search_records_a_timing_sample_saying_whether_it_hit_the_cache(catalog):
    flush()
    Sample.objects.all().delete()
    skill_search(query="pandas")
    skill_search(query="pandas")
    flush()
    hits = list(
        Sample.objects.filter(operation="marketplace_search")
        .order_by("id")
        .values_list("context__cache_hit", flat=True)
    )
    assert hits == [False, True]
