"""Marketplace search: one function over the catalog, whatever the database.

`skill_search` filters by status, category, type and tag, matches a web-search style query
(words, "quoted phrases", -exclusions, `or`), ranks, paginates, counts facets and caches the
page. Its parts:

- `query`: the user's query parsed once (`query_parse`), rebuilt per vendor with every word
  quoted, so no character typed can change the query's structure.
- `engine`: `skill_search` itself: validation, the page cache, which part answers what.
- `filters`: status, category, type and tag as a queryset (and as SQL for hand-written
  statements).
- `facets`: the total and facets as sums over (category, type) cells; the catalog summary.
- `postgres`: the stored generated `tsvector` (GIN index), `websearch_to_tsquery`, `ts_rank`.
- `sqlite`: FTS5 tables kept in step by triggers, ranked by bm25.
- `typos`: when nothing matched, slugs close to a searched word (trigram candidates, difflib).
- `results`: the page and its hits, each with its install cost.
"""

from .engine import SORTS, skill_search
from .facets import CatalogSummary, catalog_summary
from .query import STOP_WORDS, ParsedQuery, SearchInvalid, Term, query_parse
from .results import SearchHit, SearchPage
from .sqlite import SQLITE_SEARCH_TABLES, SQLITE_SEARCH_TRIGGER_PREFIX, search_index_rebuild

__all__ = [
    "SORTS",
    "SQLITE_SEARCH_TABLES",
    "SQLITE_SEARCH_TRIGGER_PREFIX",
    "STOP_WORDS",
    "CatalogSummary",
    "ParsedQuery",
    "SearchHit",
    "SearchInvalid",
    "SearchPage",
    "Term",
    "catalog_summary",
    "query_parse",
    "search_index_rebuild",
    "skill_search",
]
