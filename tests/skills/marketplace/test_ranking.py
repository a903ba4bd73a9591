"""Relevance pages are exact however the database narrows the ranking: ties by name, and the
status filter applied before a page is cut, deep in a large set of matches."""

import pytest

from skills.marketplace.search import skill_search
from skills.marketplace.search import sqlite as sqlite_search
from skills.models import Skill, SkillStatus

pytestmark = pytest.mark.django_db

BEST = [f"zebra-best-{n}" for n in range(5)]
TIED = [f"tied-{n:03}" for n in range(200)]
# A longer description: a worse bm25 on SQLite, the same ts_rank on PostgreSQL (which does
# not weigh length), so named to come after the tied ones either way.
WORSE = [f"ward-{n:03}" for n in range(30)]


@pytest.fixture
def many_matches(db) -> None:
    # Inserted in reverse name order, so an index's first rows are not the first names.
    described = [(slug, "Stripes.") for slug in BEST]
    described += [(slug, "Draws a zebra.") for slug in reversed(TIED)]
    described += [(slug, "Draws a zebra, slowly and with care.") for slug in reversed(WORSE)]
    skills = [
        Skill(slug=slug, description=description, status=SkillStatus.APPROVED)
        for slug, description in described
    ]
    skills.append(Skill(slug="zebra-zebra", description="Zebra.", status=SkillStatus.DRAFT))
    Skill.objects.bulk_create(skills)


def slugs(page) -> list[str]:
    return [item.slug for item in page.items]


# 1000: FTS5's best candidates hold every match; 50: a page deep in a tie is cut from an
# arbitrary part of the tie, and the ranking falls back to joining the matches ranked as well.
@pytest.mark.parametrize("candidates_min_extra", [1000, 50])
def test_a_page_deep_in_tied_ranks_is_ordered_by_name(
    many_matches, monkeypatch, candidates_min_extra
):
    monkeypatch.setattr(sqlite_search, "CANDIDATES_MIN_EXTRA", candidates_min_extra)
    expected = BEST + TIED + WORSE
    everything = skill_search(query="zebra", page_size=100, use_cache=False)
    assert (slugs(everything), everything.count) == (expected[:100], len(expected))
    for page in (1, 5, 6, 7, 100, 205, 206, 235):
        assert slugs(skill_search(query="zebra", page=page, page_size=1, use_cache=False)) == [
            expected[page - 1]
        ], page
    assert slugs(skill_search(query="zebra", page=2, page_size=4, use_cache=False)) == [
        "zebra-best-4",
        "tied-000",
        "tied-001",
        "tied-002",
    ]


def test_a_draft_ranked_best_stays_off_an_approved_page(many_matches):
    assert slugs(skill_search(query="zebra", page_size=3)) == BEST[:3]
    assert slugs(skill_search(query="zebra", page_size=1, status=None)) == ["zebra-zebra"]
