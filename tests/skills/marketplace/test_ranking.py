"""Relevance pages are exact however the database narrows the ranking: ties by name, and the
status filter applied before a page is cut, deep in a large set of matches."""

import pytest

from skills.models import Skill, SkillStatus
from skills.search import skill_search

pytestmark = pytest.mark.django_db

TIED = 75


@pytest.fixture
def many_matches(db) -> None:
    # Inserted in reverse name order, so an index's first rows are not the first names.
    skills = [
        Skill(slug=f"zebra-best-{n}", description="Stripes.", status=SkillStatus.APPROVED)
        for n in range(5)
    ]
    skills.append(Skill(slug="zebra-zebra", description="Zebra.", status=SkillStatus.DRAFT))
    skills += [
        Skill(slug=f"tied-{n:03}", description="Draws a zebra.", status=SkillStatus.APPROVED)
        for n in reversed(range(TIED))
    ]
    Skill.objects.bulk_create(skills)


def slugs(page) -> list[str]:
    return [item.slug for item in page.items]


def test_a_page_deep_in_tied_ranks_is_ordered_by_name(many_matches):
    everything = skill_search(query="zebra", page_size=100)
    assert everything.total == 5 + TIED
    assert slugs(everything)[5:] == [f"tied-{n:03}" for n in range(TIED)]
    for page in (1, 5, 6, 7, 20):
        assert slugs(skill_search(query="zebra", page=page, page_size=1)) == [
            slugs(everything)[page - 1]
        ]
    assert slugs(skill_search(query="zebra", page=2, page_size=4)) == [
        "zebra-best-4",
        "tied-000",
        "tied-001",
        "tied-002",
    ]


def test_a_draft_ranked_best_stays_off_an_approved_page(many_matches):
    first = skill_search(query="zebra", page_size=3)
    assert slugs(first) == ["zebra-best-0", "zebra-best-1", "zebra-best-2"]
    assert slugs(skill_search(query="zebra", page_size=1, status=None)) == ["zebra-zebra"]
