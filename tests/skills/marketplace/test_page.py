import re

import pytest
from django.contrib.auth import get_user_model

from skills.models import HistoryAction, Skill, SkillHistory

pytestmark = pytest.mark.django_db


def listed(response) -> list[str]:
    return re.findall(
        r'class="name" href="/marketplace/skills/([\w-]+)/"', response.content.decode()
    )


def test_the_page_lists_searches_and_counts_facets_without_javascript(client, catalog):
    response = client.get("/marketplace/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html
    assert "/static/marketplace/marketplace.css" in html
    assert listed(response) == [s.slug for s in sorted(catalog[:8], key=lambda s: s.slug)]
    assert "8 skills" in html
    assert '<a href="?category=data">data</a> <span class="count">5</span>' in html
    response = client.get("/marketplace/", {"query": "pandas", "category": "data"})
    assert set(listed(response)) == {"pandas-profile", "pandas-merge", "csv-reader", "excel-export"}


def test_the_page_paginates_keeping_the_search(client, db):
    Skill.objects.bulk_create(
        Skill(slug=f"tool-{n:02}", category="tools", type="utility", status="approved")
        for n in range(45)
    )
    first = client.get("/marketplace/", {"category": "tools"})
    html = first.content.decode()
    assert "page 1 of 3" in html
    assert 'rel="next" href="?category=tools&amp;page=2"' in html
    third = client.get("/marketplace/", {"category": "tools", "page": 3})
    assert listed(third) == ["tool-40", "tool-41", "tool-42", "tool-43", "tool-44"]
    assert 'rel="next"' not in third.content.decode()


@pytest.mark.parametrize(
    "params",
    [{"page": "0"}, {"page": "abc"}, {"sort": "rating"}, {"query": "x" * 10_240}, {"type": "nope"}],
)
def test_bad_input_is_a_400_page_naming_the_field(client, catalog, params):
    response = client.get("/marketplace/", params)
    assert response.status_code == 400
    assert f"<b>{next(iter(params))}</b>" in response.content.decode()


def test_a_skill_page_shows_source_versions_history_and_installs(client, catalog):
    skill = Skill.objects.get(slug="http-fetch")
    SkillHistory.objects.create(
        skill=skill, version=skill.current_version, action=HistoryAction.CREATED
    )
    html = client.get("/marketplace/skills/http-fetch/").content.decode()
    assert "def run():" in html
    assert "httpx" in html
    assert "<dt>Installs</dt><dd>10</dd>" in html
    assert "<td>1.0.0</td>" in html
    assert "Created" in html


def test_drafts_are_hidden_from_everyone_but_staff(client, catalog):
    assert client.get("/marketplace/skills/pandas-draft/").status_code == 404
    assert client.get("/marketplace/skills/no-such-skill/").status_code == 404
    staff = get_user_model().objects.create_user("staff", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    assert client.get("/marketplace/skills/pandas-draft/").status_code == 200


def test_a_skill_or_the_listed_page_downloads_as_a_bundle(client, catalog):
    import io
    import zipfile

    html = client.get("/marketplace/", {"category": "text"}).content.decode()
    url = re.search(r'<p class="bundle"><a href="([^"]+)" download>', html)[1].replace("&amp;", "&")
    assert url == "/api/skills/export?slug=slugify-text&slug=word-count"
    with zipfile.ZipFile(io.BytesIO(client.get(url).content)) as bundle:
        assert sorted(bundle.namelist()) == [
            "manifest.json",
            "skills/slugify-text.py",
            "skills/word-count.py",
        ]
    html = client.get("/marketplace/skills/http-fetch/").content.decode()
    assert '<a href="/api/skills/export?slug=http-fetch" download>' in html


@pytest.mark.parametrize(
    ("query", "shown"),
    [("csv", "<q>csv</q>"), ("  pandas -excel ", "<q>pandas -excel</q>")],
)
def test_the_summary_quotes_the_query_once_as_typed(client, catalog, query, shown):
    html = client.get("/marketplace/", {"query": query}).content.decode()

    summary = re.search(r'<p class="summary">(.*?)</p>', html, re.S).group(1)
    assert shown in summary
    assert "&quot;" not in summary
