"""PostgreSQL: the stored generated `tsvector` (`Skill.search`, GIN index) matched with
`websearch_to_tsquery` and ranked with `ts_rank`."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet

from skills.models.catalog import SEARCH_CONFIG

from .facets import Cells
from .filters import Filters, where_of
from .query import ParsedQuery
from .results import RankedIds


def search_query(parsed: ParsedQuery) -> SearchQuery:
    return SearchQuery(parsed.websearch(), search_type="websearch", config=SEARCH_CONFIG)


def postgres_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, RankedIds]:
    query = search_query(parsed)
    match = Q(search=query)

    def ranked_ids(offset: int, limit: int) -> list[int]:
        ranked = (
            filtered.filter(match)
            .annotate(rank=SearchRank(F("search"), query))
            .order_by("-rank", "slug")
            .values_list("pk", flat=True)
        )
        return list(ranked[offset : offset + limit])

    return match, ranked_ids


def postgres_cells_and_page(
    parsed: ParsedQuery,
    matching: QuerySet,
    filters: Filters,
    offset: int,
    limit: int,
) -> tuple[Cells, list[int]]:
    """The cells and the ranked ids of one page in one pass over the matched rows: the heap
    rows of a common term are read once, not once to count and again to rank."""
    where_sql, where_params = where_of(matching)
    page_sql, page_params = "", []
    for name in ("category", "type"):
        if filters[name]:
            page_sql += f" AND {name} = %s"
            page_params.append(filters[name])
    sql = (
        "WITH matched AS MATERIALIZED (SELECT id, slug, category, type, "
        "ts_rank(search, websearch_to_tsquery(%s::regconfig, %s)) AS rank "
        f"FROM skills_skill WHERE TRUE{where_sql}) "
        "SELECT NULL::bigint, category, type, COUNT(*) FROM matched GROUP BY category, type "
        "UNION ALL (SELECT id, NULL, NULL, NULL FROM matched "
        f"WHERE TRUE{page_sql} ORDER BY rank DESC, slug LIMIT %s OFFSET %s)"
    )
    params = [SEARCH_CONFIG, parsed.websearch(), *where_params, *page_params, limit, offset]
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
