"""PostgreSQL's search table (skills_search_doc) follows skills_skill through every kind of
write: inserts (one and bulk), updates of searched and unsearched columns, deletes, TRUNCATE."""

import pytest
from django.db import connection

from skills.marketplace.search import skill_search
from skills.models import Skill

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's search table"),
]


def _documents() -> dict[int, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.id, d.status, d.category, d.type, d.slug, d.tags::text, d.search = s.search "
            "FROM skills_search_doc d LEFT JOIN skills_skill s ON s.id = d.id ORDER BY d.id"
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _skill(slug: str, **fields) -> Skill:
    fields = {"category": "data", "type": "transform", "status": "approved", **fields}
    return Skill.objects.create(slug=slug, **fields)


@pytest.mark.django_db
def test_inserts_one_and_bulk_are_copied_with_their_tsvector():
    one = _skill("pandas-clean", tags=["etl"])
    many = Skill.objects.bulk_create(
        Skill(slug=f"bulk-{n}", category="web", type="fetch", status="draft") for n in range(3)
    )
    documents = _documents()
    assert documents[one.pk] == ("approved", "data", "transform", "pandas-clean", '["etl"]', True)
    assert {documents[skill.pk][:4] for skill in many} == {
        ("draft", "web", "fetch", "bulk-0"),
        ("draft", "web", "fetch", "bulk-1"),
        ("draft", "web", "fetch", "bulk-2"),
    }


@pytest.mark.django_db
def test_an_update_of_a_searched_column_is_followed():
    skill = _skill("pandas-clean", description="cleans tables")
    Skill.objects.filter(pk=skill.pk).update(
        slug="polars-clean", description="cleans frames", status="deprecated", category="text"
    )
    assert _documents()[skill.pk] == ("deprecated", "text", "transform", "polars-clean", "[]", True)
    assert skill_search(query="frames", status=None).count == 1
    assert skill_search(query="tables", status=None).count == 0


@pytest.mark.django_db
def test_an_update_of_other_columns_leaves_the_document_unchanged():
    skill = _skill("pandas-clean")
    Skill.objects.filter(pk=skill.pk).update(run_count=5, last_error="boom")
    skill.save()  # every column in the SET clause, none changed
    assert _documents()[skill.pk] == ("approved", "data", "transform", "pandas-clean", "[]", True)


@pytest.mark.django_db
def test_deletes_remove_the_documents():
    kept, gone = _skill("pandas-kept"), _skill("pandas-gone")
    Skill.objects.filter(pk=gone.pk).delete()
    assert list(_documents()) == [kept.pk]


@pytest.mark.django_db(transaction=True)
def test_truncate_empties_the_search_table():
    _skill("pandas-clean")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE skills_skill CASCADE")
    assert _documents() == {}
