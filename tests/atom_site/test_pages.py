"""Every list answers one page shape: {items, count, page, page_size, pages}."""

import pytest
from django.test import Client

from perf.models import Alert

PAGE_KEYS = {"items", "count", "page", "page_size", "pages"}


@pytest.fixture
def staff(user_make) -> Client:
    client = Client()
    client.force_login(user_make("root", is_staff=True))
    return client


@pytest.fixture
def three_skills(skill_publish):
    return [skill_publish(name) for name in ("alpha", "beta", "gamma")]


LISTS = [
    "/api/skills/",
    "/api/skills/alpha/versions",
    "/api/skills/alpha/history",
    "/api/agents/",
    "/api/perf/samples",
    "/api/perf/alerts",
    "/api/perf/budgets",
    "/api/marketplace/skills",
]


@pytest.mark.parametrize("url", LISTS)
def test_every_list_answers_the_one_page_shape(staff, three_skills, url):
    body = staff.get(url).json()

    assert PAGE_KEYS <= set(body)
    assert body["page"] == 1
    assert body["pages"] == max(1, -(-body["count"] // body["page_size"]))


def test_a_page_holds_page_size_items_and_counts_them_all(client, three_skills):
    first = client.get("/api/skills/", {"page_size": 2}).json()
    second = client.get("/api/skills/", {"page_size": 2, "page": 2}).json()

    assert {key: first[key] for key in PAGE_KEYS - {"items"}} == {
        "count": 3,
        "page": 1,
        "page_size": 2,
        "pages": 2,
    }
    assert [item["slug"] for item in first["items"]] == ["alpha", "beta"]
    assert ([item["slug"] for item in second["items"]], second["page"]) == (["gamma"], 2)


def test_a_page_past_the_end_is_empty_with_the_same_count(client, three_skills):
    body = client.get("/api/skills/", {"page": 50}).json()

    assert (body["items"], body["count"], body["page"], body["pages"]) == ([], 3, 50, 1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "99999999999999999999"}, "page"),
        ({"page": "1000001"}, "page"),
        ({"page": "0"}, "page"),
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
    ],
)
@pytest.mark.parametrize("url", ["/api/skills/", "/api/perf/samples", "/api/agents/"])
def test_a_page_out_of_range_is_a_422_naming_it_not_a_500(client, db, url, params, field):
    response = client.get(url, params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_the_marketplace_page_counts_in_count_beside_its_facets(client, three_skills):
    body = client.get("/api/marketplace/skills", {"page_size": 2}).json()

    assert {key: body[key] for key in PAGE_KEYS - {"items"}} == {
        "count": 3,
        "page": 1,
        "page_size": 2,
        "pages": 2,
    }
    assert "total" not in body
    assert body["facets"]["category"] == {"text": 3}


def test_alerts_are_paged_newest_first(staff, db):
    for number in range(3):
        Alert.objects.create(
            kind="budget",
            operation="skill_load",
            subject=f"s{number}",
            severity="warning",
            message="slow",
            observed=2.0,
            threshold=1.0,
        )

    body = staff.get("/api/perf/alerts", {"page_size": 2}).json()

    assert (body["count"], body["pages"], len(body["items"])) == (3, 2, 2)
    assert [item["subject"] for item in body["items"]] == ["s2", "s1"]
