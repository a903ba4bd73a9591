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
# bm25 over name, tags and description: the weights of the table's `rank` (set by migration
# 0003), called directly because going through `rank` cost a quarter more per match.
BM25 = "bm25(skills_skill_fts, 10.0, 4.0, 1.0)"


def fts_match(parsed: ParsedQuery) -> Q:
    # An uncorrelated `id IN (…)`: SQLite runs it once per query.
    return Q(pk__in=RawSQL(FTS_IDS, (parsed.fts5(),)))


# Candidates bm25 ranks inside FTS5 per page wanted, before any row of skills_skill is read.
CANDIDATES_PER_WANTED = 4
CANDIDATES_MIN_EXTRA = 50


def sqlite_match(
    parsed: ParsedQuery, filtered: QuerySet, *, is_narrowed: bool
) -> tuple[Q, RankedIds]:
    """The FTS5 match, and the ids of a page ranked by bm25 (ties by name).

    Unless a category, type or tag narrows the search, FTS5 ranks its matches alone and only
    its best candidates are joined to the skills (for the status and the name): joining every
    match first cost as much as ranking it. `is_narrowed` searches keep the join, since most
    candidates would be filtered out.
    """
    expression = parsed.fts5()

    def ranked_ids(offset: int, limit: int) -> list[int]:
        at_most = None
        if not is_narrowed:
            candidates = (offset + limit) * CANDIDATES_PER_WANTED + CANDIDATES_MIN_EXTRA
            page, is_exact = _ranked_among_best(expression, filtered, candidates, offset, limit)
            if is_exact:
                return [pk for pk, _ in page]
            if len(page) == limit:
                at_most = page[-1][1]
        return _ranked_among_all(expression, filtered, offset, limit, at_most=at_most)

    return fts_match(parsed), ranked_ids


def _ranked_among_best(
    expression: str, filtered: QuerySet, candidates: int, offset: int, limit: int
) -> tuple[list[tuple[int, float]], bool]:
    """The page (id, rank) ranked among FTS5's best `candidates` matches, and whether it is
    provably the page among all matches.

    It is when FTS5 had fewer matches than asked (all were seen), or when the page is full
    and its last rank is strictly better than the worst candidate's: every match left out
    ranks at least as badly as that candidate, so after the whole page. Otherwise (ties at
    the edge, common among similar skills) the page is still full of the best ranks.
    """
    where_sql, where_params = where_of(filtered)
    # The filters go in the ON clause, so that every candidate comes back (`is_kept` says
    # which pass them) and the worst candidate's rank is known.
    sql = (
        f"SELECT candidates.id, candidates.rank, skills_skill.id IS NOT NULL AS is_kept "
        f"FROM (SELECT rowid AS id, {BM25} AS rank FROM skills_skill_fts "
        "WHERE skills_skill_fts MATCH %s ORDER BY rank LIMIT %s) AS candidates "
        f"LEFT JOIN skills_skill ON skills_skill.id = candidates.id{where_sql} "
        "ORDER BY candidates.rank, skills_skill.slug"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, candidates, *where_params])
        rows = cursor.fetchall()
    page = [(pk, rank) for pk, rank, is_kept in rows if is_kept][offset : offset + limit]
    worst_rank = max((rank for _, rank, _ in rows), default=None)
    is_exact = len(rows) < candidates or (len(page) == limit and page[-1][1] < worst_rank)
    return page, is_exact


def _ranked_among_all(
    expression: str, filtered: QuerySet, offset: int, limit: int, *, at_most: float | None
) -> list[int]:
    """The page ranked among every match; with `at_most`, only matches ranked at least that
    well are joined to the skills (bm25 is lower for better matches)."""
    where_sql, where_params = where_of(filtered)
    if at_most is not None:
        where_sql += f" AND {BM25} <= %s"
        where_params.append(at_most)
    sql = (
        "SELECT skills_skill.id FROM skills_skill_fts "
        "JOIN skills_skill ON skills_skill.id = skills_skill_fts.rowid "
        f"WHERE skills_skill_fts MATCH %s{where_sql} "
        f"ORDER BY {BM25}, skills_skill.slug LIMIT %s OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, *where_params, limit, offset])
        return [row[0] for row in cursor.fetchall()]


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
    triggers, e.g. a bulk load); PostgreSQL's search table is kept by triggers no writer
    bypasses, so it never needs it."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table in SQLITE_SEARCH_TABLES:
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
