"""SQLite: an external-content FTS5 table over slug, tags and description (porter stemming),
kept in step with the skills by triggers and ranked by bm25 (weights set as its `rank`)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from .facets import Cells
from .filters import FTS_IDS, where_of
from .query import ParsedQuery
from .results import RankedIds

# SQLite's FTS5 tables and the triggers keeping them in step (made by the migration).
SQLITE_SEARCH_TABLES = ("skills_skill_fts", "skills_skill_trgm")
SQLITE_SEARCH_TRIGGER_PREFIX = "skills_skill_search_"


def fts_match(parsed: ParsedQuery) -> Q:
    # An uncorrelated `id IN (…)`: SQLite runs it once per query.
    return Q(pk__in=RawSQL(FTS_IDS, (parsed.fts5(),)))


def sqlite_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, RankedIds]:
    expression = parsed.fts5()

    def ranked_ids(offset: int, limit: int) -> list[int]:
        # bm25 over name, tags and description (weights set in the migration as the rank).
        where_sql, where_params = where_of(filtered)
        sql = (
            "SELECT skills_skill.id FROM skills_skill_fts "
            "JOIN skills_skill ON skills_skill.id = skills_skill_fts.rowid "
            f"WHERE skills_skill_fts MATCH %s{where_sql} "
            "ORDER BY skills_skill_fts.rank, skills_skill.slug LIMIT %s OFFSET %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [expression, *where_params, limit, offset])
            return [row[0] for row in cursor.fetchall()]

    return fts_match(parsed), ranked_ids


def sqlite_cells(parsed: ParsedQuery, unmatched: QuerySet) -> Cells:
    # Driven by the FTS5 table joined to the skills (through the covering index), rather
    # than `id IN (…)`, which first builds a temporary b-tree of every matched id.
    where_sql, where_params = where_of(unmatched)
    sql = (
        "SELECT skills_skill.category, skills_skill.type, COUNT(*) FROM skills_skill_fts "
        "JOIN skills_skill ON skills_skill.id = skills_skill_fts.rowid "
        f"WHERE skills_skill_fts MATCH %s{where_sql} "
        "GROUP BY skills_skill.category, skills_skill.type"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [parsed.fts5(), *where_params])
        return {(category, type_): count for category, type_, count in cursor.fetchall()}


def search_index_rebuild() -> None:
    """Rebuild SQLite's full-text tables from skills_skill (after writes that bypassed the
    triggers, e.g. a bulk load); PostgreSQL's generated column never needs it."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table in SQLITE_SEARCH_TABLES:
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
