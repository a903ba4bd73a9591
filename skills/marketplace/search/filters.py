"""The marketplace filters (status, category, type, tag) as a queryset, and as raw SQL for the
statements the vendor parts write by hand."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FullResultSet
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from skills.models import Skill

from .query import MAX_TERMS, WORD

Filters = dict[str, str | None]

# The ids of the skills an FTS5 expression matches (SQLite).
FTS_IDS = "SELECT rowid FROM skills_skill_fts WHERE skills_skill_fts MATCH %s"


def skills_filtered(filters: Filters, status: str | None, *, is_counted: bool = False) -> QuerySet:
    """The skills passing the filters; `is_counted` when all of them are to be counted rather
    than a page listed in index order."""
    queryset = Skill.objects.all()
    if status is not None:
        queryset = queryset.filter(status=status)
    for name in ("category", "type"):
        if filters[name]:
            queryset = queryset.filter(**{name: filters[name]})
    if filters["tag"]:
        if connection.vendor == "postgresql":
            queryset = queryset.filter(tags__contains=[filters["tag"]])
        else:
            queryset = _sqlite_tag_filtered(queryset, filters["tag"], is_counted=is_counted)
    return queryset


def _sqlite_tag_filtered(queryset: QuerySet, tag: str, *, is_counted: bool) -> QuerySet:
    # SQLite has no JSON containment lookup (nor an index for one). To count, the FTS5 table's
    # tags column narrows the candidates to skills whose tags hold the tag's words, and
    # json_each keeps those with exactly this tag; a page in index order just checks each row.
    words = WORD.findall(tag.lower())
    if words and is_counted:
        queryset = queryset.filter(
            pk__in=RawSQL(FTS_IDS, (f'tags : "{" ".join(words[:MAX_TERMS])}"',))
        )
    return queryset.extra(
        where=["EXISTS (SELECT 1 FROM json_each(skills_skill.tags) WHERE value = %s)"],
        params=[tag],
    )


def where_of(filtered: QuerySet) -> tuple[str, list[Any]]:
    """The WHERE clause of `filtered` (the marketplace filters on skills_skill) as ` AND (…)`."""
    compiler = filtered.query.get_compiler(connection=connection)
    try:
        where_sql, params = compiler.compile(filtered.query.where)
    except FullResultSet:  # no filter at all (every status)
        return "", []
    if not where_sql:
        return "", []
    return f" AND ({where_sql})", list(params)
