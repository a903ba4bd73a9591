import pytest
from django.contrib.auth import get_user_model

from perf.models import Sample
from perf.recording import flush
from skills.catalog.announcements import catalog_generation_bump
from skills.catalog.importer import skills_import, sources_from_paths
from skills.catalog.transitions import skill_approve, skill_deprecate
from skills.marketplace.search import catalog_summary, skill_search
from skills.models import Skill

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


def test_hosts_sharing_a_cache_do_not_read_each_others_pages(
    catalog, monkeypatch, django_assert_num_queries
):
    # A page's install costs say what is built on the host that priced it.
    monkeypatch.setattr("socket.gethostname", lambda: "host-a")
    skill_search(query="pandas", category="data")
    monkeypatch.setattr("socket.gethostname", lambda: "host-b")
    with django_assert_num_queries(4):  # cells stay cached; the ranked page, its rows, costs
        skill_search(query="pandas", category="data")
    with django_assert_num_queries(0):
        skill_search(query="pandas", category="data")


def test_without_a_query_total_and_facets_come_from_the_catalog_summary(
    catalog, settings, django_assert_num_queries
):
    settings.MARKETPLACE_CACHE_TTL = 0  # no cached pages: only the summary is kept
    skill_search()
    # The page, its environments, its run times: nothing counts the catalog.
    with django_assert_num_queries(3):
        page = skill_search(category="data", sort="popularity", page=2, page_size=2)
    assert page.count == 5
    assert slugs(page) == ["pandas-merge", "numpy-stats"]
    assert page.facets["type"] == {"analyze": 2, "extract": 1, "generate": 1, "transform": 1}
    assert page.facets["category"] == {"data": 5, "text": 2, "web": 1}


def test_the_catalog_summary_follows_the_catalog_generation(catalog):
    assert catalog_summary()["approved", "web", "fetch"] == 1
    Skill.objects.filter(slug="http-fetch").update(category="network")
    assert catalog_summary()["approved", "web", "fetch"] == 1  # not announced: kept
    catalog_generation_bump()
    summary = catalog_summary()
    assert ("approved", "web", "fetch") not in summary
    assert summary["approved", "network", "fetch"] == 1
    assert summary["draft", "data", "utility"] == 1


def test_a_query_counts_its_matches_once_for_every_page_and_sort(
    catalog, django_assert_num_queries
):
    skill_search(query="pandas")
    # The page, its environments, its run times; total and facets from the cached counts.
    with django_assert_num_queries(3):
        page = skill_search(query="pandas", category="data", sort="popularity", page=2, page_size=2)
    assert page.count == 4
    assert slugs(page) == ["pandas-merge", "excel-export"]
    assert page.facets == {
        "category": {"data": 4},
        "type": {"analyze": 1, "extract": 1, "generate": 1, "transform": 1},
    }


def test_the_cache_can_be_bypassed(catalog, django_assert_max_num_queries):
    skill_search(query="pandas")
    Skill.objects.filter(slug="csv-reader").delete()  # no announcement: the cache keeps it
    assert "csv-reader" in slugs(skill_search(query="pandas"))
    assert "csv-reader" not in slugs(skill_search(query="pandas", use_cache=False))


def test_an_import_invalidates_cached_searches(
    catalog, write_skill, django_capture_on_commit_callbacks
):
    assert skill_search(query="echo", status=None).count == 0
    sources, _ = sources_from_paths([write_skill("echo.py", name="echo-text").parent])
    with django_capture_on_commit_callbacks(execute=True):
        skills_import(sources=sources)
    assert slugs(skill_search(query="echo", status=None)) == ["echo-text"]


def test_an_update_invalidates_cached_searches(write_skill, django_capture_on_commit_callbacks):
    path = write_skill("echo.py", name="echo-text", category="text")
    with django_capture_on_commit_callbacks(execute=True):
        skills_import(sources=sources_from_paths([path.parent])[0], approve=True)
    assert skill_search(category="text").count == 1
    write_skill("echo.py", name="echo-text", category="strings", version="1.1.0")
    with django_capture_on_commit_callbacks(execute=True):
        skills_import(sources=sources_from_paths([path.parent])[0])
    assert skill_search(category="text").count == 0
    page = skill_search(category="strings")
    assert ([item.version for item in page.items], page.facets["category"]) == (
        ["1.1.0"],
        {"strings": 1},
    )


def test_without_a_ttl_pages_are_not_cached(catalog, settings):
    settings.MARKETPLACE_CACHE_TTL = 0
    assert "csv-reader" in slugs(skill_search(query="pandas"))
    Skill.objects.filter(slug="csv-reader").delete()  # no announcement
    assert "csv-reader" not in slugs(skill_search(query="pandas"))


def test_approving_invalidates_cached_searches(catalog, staff, django_capture_on_commit_callbacks):
    assert skill_search(query="pandas").count == 4
    with django_capture_on_commit_callbacks(execute=True):
        skill_approve(skill=Skill.objects.get(slug="pandas-draft"), actor=staff)
    assert skill_search(query="pandas").count == 5
    assert skill_search(query="pandas", page=2).facets["category"] == {"data": 5}


def test_deprecating_invalidates_cached_searches(
    catalog, staff, django_capture_on_commit_callbacks
):
    assert skill_search(category="web").count == 1
    with django_capture_on_commit_callbacks(execute=True):
        skill_deprecate(skill=Skill.objects.get(slug="http-fetch"), actor=staff)
    assert skill_search(category="web").count == 0
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
