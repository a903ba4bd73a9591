import json

import pytest
from django.contrib.auth import get_user_model

from skills.models import Skill

pytestmark = pytest.mark.django_db

URL = "/api/marketplace/skills"


def test_it_answers_a_page_with_items_total_pages_and_facets(client, catalog):
    body = client.get(URL, {"query": "pandas", "page_size": 2}).json()
    assert body["count"] == 4
    assert (body["page"], body["pages"], body["page_size"]) == (1, 2, 2)
    assert {item["slug"] for item in body["items"]} == {"pandas-profile", "pandas-merge"}
    assert body["facets"]["category"] == {"data": 4}
    assert body["query"] == '"pandas"'
    assert body["is_fuzzy"] is False
    profile = next(item for item in body["items"] if item["slug"] == "pandas-profile")
    assert (profile["package_count"], profile["version"], profile["install_count"]) == (
        1,
        "1.0.0",
        50,
    )


def test_filters_sort_and_pages_reach_the_search(client, catalog):
    body = client.get(URL, {"category": "data", "type": "analyze", "sort": "popularity"}).json()
    assert [item["slug"] for item in body["items"]] == ["pandas-profile", "numpy-stats"]
    body = client.get(URL, {"tag": "strings", "page": 2, "page_size": 1}).json()
    assert [item["slug"] for item in body["items"]] == ["word-count"]
    assert client.get(URL, {"query": "pnadas"}).json()["is_fuzzy"] is True


def test_the_default_page_size_is_20_and_100_is_allowed(client, db):
    Skill.objects.bulk_create(
        Skill(slug=f"skill-{n:03}", category="bulk", type="utility", status="approved")
        for n in range(101)
    )
    assert len(client.get(URL).json()["items"]) == 20
    assert len(client.get(URL, {"page_size": 100}).json()["items"]) == 100


def test_an_unknown_category_is_an_empty_result(client, catalog):
    body = client.get(URL, {"category": "no-such-category"}).json()
    assert (body["count"], body["items"], body["pages"]) == (0, [], 1)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"page": 0}, "page", "greater than or equal to 1"),
        ({"page": -1}, "page", "greater than or equal to 1"),
        ({"page": "abc"}, "page", "integer"),
        ({"page_size": 0}, "page_size", "greater than or equal to 1"),
        ({"page_size": 1000}, "page_size", "less than or equal to 100"),
        ({"page": 10**30}, "page", "less than or equal to"),
        ({"query": "x" * 10_240}, "query", "at most 256 characters"),
        ({"sort": "rating"}, "sort", "relevance"),
        ({"type": "teleport"}, "type", "transform"),
        ({"category": "Data; DROP TABLE"}, "category", "pattern"),
        ({"tag": "a\x00b"}, "tag", "must not contain NUL"),  # refused before the view
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, catalog, params, field, words):
    response = client.get(URL, params)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == [field]
    assert words in errors[0]["message"]
    assert Skill.objects.count() == 9


@pytest.mark.parametrize(
    "query",
    [
        "'&|!:*()\"\\",
        "pandas' OR 1=1 --",
        "'; DROP TABLE skills_skill; --",
        '" OR ""="',
        "pandas) UNION SELECT * FROM auth_user --",
        "NOT AND OR NEAR(",
        "\\x00",
    ],
)
def test_metacharacters_and_injection_attempts_are_plain_words(client, catalog, query):
    response = client.get(URL, {"query": query})
    assert response.status_code == 200
    assert response.json()["count"] <= 8
    assert Skill.objects.count() == 9


def test_invalid_utf8_is_not_a_server_error(client, catalog):
    # Django decodes bytes that are not UTF-8 as U+FFFD: no word, or not a slug.
    response = client.get(URL + "?query=%ff%fe%c3&category=%ff")
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["category"]
    body = client.get(URL + "?query=%ff%fe%c3").json()
    assert (body["query"], body["count"]) == ("", 8)
    body = client.get(URL + "?query=pand%e4s&tag=%ff").json()
    assert (body["query"], body["count"]) == ('"pand s"', 0)  # one token: a phrase
    assert client.get("/marketplace/?query=%ff%fe&category=%ff").status_code == 400
    assert client.get("/marketplace/?query=pand%e4s").status_code == 200


def test_other_statuses_need_a_staff_user(client, catalog):
    assert client.get(URL, {"status": "draft"}).status_code == 403
    staff = get_user_model().objects.create_user("staff", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    body = client.get(URL, {"status": "draft"}).json()
    assert [item["slug"] for item in body["items"]] == ["pandas-draft"]


def test_the_answer_has_exactly_the_documented_schema(client, catalog):
    from skills.marketplace.api import InstallCostOut, SearchPageOut
    from skills.marketplace.search import skill_search

    body = client.get(URL, {"query": "pandas", "page_size": 3}).json()
    documented = SearchPageOut.model_validate(skill_search(query="pandas", page_size=3))
    assert body == json.loads(documented.model_dump_json())
    assert set(body["items"][0]["cost"]) == set(InstallCostOut.model_fields)
