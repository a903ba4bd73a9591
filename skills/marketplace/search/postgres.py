"""PostgreSQL: `skills_search_doc` (the searched columns of each skill and a copy of its
generated `tsvector`, GIN index, kept in step by triggers; migration 0008) matched with
`websearch_to_tsquery` and ranked with `ts_rank`.

The statements read the search table under the alias `skills_skill`, so the marketplace
filters compiled against `Skill` (status, category, type, tag) apply to it unchanged.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from skills.models.catalog import SEARCH_CONFIG

from .facets import Cells
from .filters import Filters, where_of
from .query import ParsedQuery
from .results import RankedIds

SEARCH_TABLE = "skills_search_doc"
_SEARCHED = f'{SEARCH_TABLE} AS "skills_skill"'
_TSQUERY = "websearch_to_tsquery(%s::regconfig, %s)"


def postgres_text_match(parsed: ParsedQuery) -> Q:
    """Skills matching the query, as a filter on `Skill` (a semi-join the planner can turn
    either way: matches first for a rare term, the listing index first for a common one)."""
    sql = f"SELECT id FROM {SEARCH_TABLE} WHERE search @@ {_TSQUERY}"
    return Q(pk__in=RawSQL(sql, (SEARCH_CONFIG, parsed.websearch())))


def postgres_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, RankedIds]:
    """The match as a filter, and the ids of a page ranked by `ts_rank` (ties by name)."""

    def ranked_ids(offset: int, limit: int) -> list[int]:
        where_sql, where_params = where_of(filtered)
        sql = (
            f"SELECT id FROM {_SEARCHED} WHERE search @@ {_TSQUERY}{where_sql} "
            f"ORDER BY ts_rank(search, {_TSQUERY}) DESC, slug LIMIT %s OFFSET %s"
        )
        params = [*_query_params(parsed), *where_params, *_query_params(parsed), limit, offset]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    return postgres_text_match(parsed), ranked_ids


def postgres_cells(parsed: ParsedQuery, unmatched: QuerySet) -> Cells:
    where_sql, where_params = where_of(unmatched)
    sql = (
        f"SELECT category, type, COUNT(*) FROM {_SEARCHED} "
        f"WHERE search @@ {_TSQUERY}{where_sql} GROUP BY category, type"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_query_params(parsed), *where_params])
        return {(category, type_): count for category, type_, count in cursor.fetchall()}


def postgres_cells_and_page(
    parsed: ParsedQuery,
    unmatched: QuerySet,
    filters: Filters,
    offset: int,
    limit: int,
) -> tuple[Cells, list[int]]:
    """The cells and the ranked ids of one page in one pass over the matched rows: the rows
    of a common term are read once, not once to count and again to rank."""
    where_sql, where_params = where_of(unmatched)
    page_sql, page_params = "", []
    for name in ("category", "type"):
        if filters[name]:
            page_sql += f" AND {name} = %s"
            page_params.append(filters[name])
    sql = (
        "WITH matched AS MATERIALIZED (SELECT id, slug, category, type, "
        f"ts_rank(search, {_TSQUERY}) AS rank "
        f"FROM {_SEARCHED} WHERE search @@ {_TSQUERY}{where_sql}) "
        "SELECT NULL::bigint, category, type, COUNT(*) FROM matched GROUP BY category, type "
        "UNION ALL (SELECT id, NULL, NULL, NULL FROM matched "
        f"WHERE TRUE{page_sql} ORDER BY rank DESC, slug LIMIT %s OFFSET %s)"
    )
    params = [
        *_query_params(parsed),
        *_query_params(parsed),
        *where_params,
        *page_params,
        limit,
        offset,
    ]
    cells: Cells = {}
    page_ids = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, category, type_, count in cursor.fetchall():
            if pk is None:
                cells[category, type_] = count
            else:
                page_ids.append(pk)
    return cells, page_ids


def _query_params(parsed: ParsedQuery) -> list[str]:
    return [SEARCH_CONFIG, parsed.websearch()]
