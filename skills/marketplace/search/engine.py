"""`skill_search`: one page of the marketplace, whatever the database.

Filters by status, category, type and tag, matches the parsed query, ranks only the page,
counts the total and facets from cells, and caches the page under the catalog generation.
The vendor differences stay in `postgres`, `sqlite` and `typos`.
"""

from __future__ import annotations

import hashlib
import math
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet

from perf.recording import measure_performance
from skills.catalog.announcements import catalog_generation
from skills.models import Skill, SkillStatus
from skills.operations import MARKETPLACE_SEARCH

from .facets import (
    CACHE_VERSION,
    Cells,
    cells_minus,
    fuzzy_cells,
    is_in,
    query_cells,
    summary_cells,
    total_and_facets,
)
from .filters import Filters, skills_filtered
from .helpers import beside
from .postgres import (
    postgres_cells,
    postgres_cells_and_page,
    postgres_match,
    postgres_text_match,
)
from .query import ParsedQuery, SearchInvalid, query_parse
from .results import RankedIds, SearchPage, hits_of, rows_for_page
from .sqlite import fts_match, sqlite_cells, sqlite_match
from .typos import typo_candidates

SORTS = ("relevance", "name", "newest", "popularity")


def skill_search(
    *,
    query: str = "",
    category: str | None = None,
    type: str | None = None,
    tag: str | None = None,
    status: str | None = SkillStatus.APPROVED,
    sort: str = "relevance",
    page: int = 1,
    page_size: int = 20,
    use_cache: bool = True,
) -> SearchPage:
    """One page of the marketplace: matching skills, their total, and facet counts.

    `status=None` searches every status. Facets count skills per category and per type for the
    current query and filters, each ignoring its own filter (so another category can be picked).
    A page past the last one is empty, not an error. Pages are cached for
    `MARKETPLACE_CACHE_TTL` seconds under the catalog generation, so any catalog change
    invalidates every cached page at once.
    """
    if sort not in SORTS:
        raise SearchInvalid("sort", f"must be one of {', '.join(SORTS)}")
    if page < 1:
        raise SearchInvalid("page", "must be 1 or more")
    if not 1 <= page_size <= settings.MARKETPLACE_MAX_PAGE_SIZE:
        raise SearchInvalid(
            "page_size", f"must be between 1 and {settings.MARKETPLACE_MAX_PAGE_SIZE}"
        )
    if status is not None and status not in SkillStatus.values:
        raise SearchInvalid("status", f"must be one of {', '.join(SkillStatus.values)}")
    if len(query) > settings.MARKETPLACE_MAX_QUERY_LENGTH:
        raise SearchInvalid(
            "query", f"must be at most {settings.MARKETPLACE_MAX_QUERY_LENGTH} characters"
        )
    for name, value in (("category", category), ("type", type), ("tag", tag)):
        if value is not None and (len(value) > 64 or "\x00" in value or not _is_unicode(value)):
            raise SearchInvalid(
                name, "must be at most 64 characters, without NUL or lone surrogates"
            )
    parsed = query_parse(query)
    filters = {"category": category or None, "type": type or None, "tag": tag or None}
    if parsed.is_stop_words_only:
        return SearchPage(
            items=[],
            count=0,
            page=page,
            pages=1,
            page_size=page_size,
            query="",
            sort=sort,
            facets={"category": {}, "type": {}},
        )
    with measure_performance(MARKETPLACE_SEARCH, sort=sort) as measurement:
        # Read once per search: every cache key below is under this generation.
        generation = catalog_generation() if use_cache else None
        key = ""
        if generation is not None and settings.MARKETPLACE_CACHE_TTL:
            key = _cache_key(generation, parsed, filters, status, sort, page, page_size)
            cached = cache.get(key)
            if cached is not None:
                measurement.context["cache_hit"] = True
                return cached
        measurement.context["cache_hit"] = False
        result = _search(parsed, filters, status, sort, page, page_size, generation=generation)
        if key:
            cache.set(key, result, timeout=settings.MARKETPLACE_CACHE_TTL)
        return result


def _is_unicode(value: str) -> bool:
    """Whether `value` encodes as UTF-8: a lone surrogate (from a JSON "\\ud800" or a Python
    caller) does not, and failed in the cache key and the database driver."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _cache_key(
    generation: int,
    parsed: ParsedQuery,
    filters: Filters,
    status: str | None,
    sort: str,
    page: int,
    page_size: int,
) -> str:
    parts = [
        parsed.normalized(),
        *(value or "" for value in filters.values()),
        status or "*",
        sort,
        str(page),
        str(page_size),
        # A page carries install costs, whose "warm" means built on this host: hosts that
        # share a Redis cache must not read each other's pages.
        socket.gethostname(),
    ]
    return _key_of("marketplace", generation, parts)


def _cells_cache_key(
    generation: int, parsed: ParsedQuery, status: str | None, tag: str | None
) -> str:
    return _key_of("marketplace:cells", generation, [parsed.normalized(), tag or "", status or "*"])


def _key_of(prefix: str, generation: int, parts: list[str]) -> str:
    """A cache key under the catalog generation: a digest of the parts and the database."""
    material = "\x1f".join([*parts, connection.vendor])
    digest = hashlib.sha256(material.encode()).hexdigest()[:32]
    return f"{prefix}:{CACHE_VERSION}:{generation}:{digest}"


def _search(
    parsed: ParsedQuery,
    filters: Filters,
    status: str | None,
    sort: str,
    page: int,
    page_size: int,
    *,
    generation: int | None,
) -> SearchPage:
    unfiltered = {"category": None, "type": None, "tag": filters["tag"]}
    filtered = skills_filtered(filters, status)
    match, ranked_ids = Q(), None
    if not parsed.is_empty:
        match, ranked_ids = _text_match(parsed, filtered, filters, status)
    pages_offset = (page - 1) * page_size
    # The ranked page when counting already produced it (or started it on a helper).
    page_counted: Callable[[], list[int]] | None = None

    def count() -> Cells:
        nonlocal page_counted
        unmatched = skills_filtered(unfiltered, status, is_counted=True)
        if ranked_ids is None:
            return query_cells(unmatched.filter(match))
        if sort == "relevance":
            # A common term's count and rank each read every match: rank on a helper's
            # connection meanwhile, when one is free.
            page_counted = beside(partial(ranked_ids, pages_offset, page_size))
            if page_counted is None and connection.vendor == "postgresql":
                cells, page_ids = postgres_cells_and_page(
                    parsed, unmatched, filters, pages_offset, page_size
                )
                page_counted = partial(list, page_ids)
                return cells
        return _matched_cells(parsed, unmatched)

    cells = _cells(parsed, unfiltered, status, count=count, generation=generation)
    total, facets = total_and_facets(cells, filters)
    is_fuzzy = False
    if total == 0 and parsed.has_positive:
        fuzzy = typo_candidates(parsed, skills_filtered(unfiltered, status))
        fuzzy_total, fuzzy_facets = total_and_facets(fuzzy_cells(fuzzy), filters)
        if fuzzy_total:
            is_fuzzy = True
            total, facets, page_counted = fuzzy_total, fuzzy_facets, None
            ranked_ids = _slice_of(
                [pk for pk, category, type_ in fuzzy if is_in(category, type_, filters)]
            )
    pages = max(1, math.ceil(total / page_size))
    offset = pages_offset
    if offset >= total:
        rows = []
    elif ranked_ids is not None and (sort == "relevance" or is_fuzzy):
        # Rank only the page: the vendor's index hands back the ranked ids of this page.
        page_ids = page_counted() if page_counted else ranked_ids(offset, page_size)
        by_id = {row["pk"]: row for row in rows_for_page(Skill.objects.filter(pk__in=page_ids))}
        rows = [by_id[pk] for pk in page_ids if pk in by_id]
    else:
        ordered = filtered.filter(match).order_by(*_ORDERINGS[sort])
        rows = list(rows_for_page(ordered)[offset : offset + page_size])
    return SearchPage(
        items=hits_of(rows),
        count=total,
        page=page,
        pages=pages,
        page_size=page_size,
        query=parsed.normalized(),
        sort=sort,
        facets=facets,
        is_fuzzy=is_fuzzy,
    )


def _cells(
    parsed: ParsedQuery,
    unfiltered: Filters,
    status: str | None,
    *,
    count: Callable[[], Cells],
    generation: int | None,
) -> Cells:
    """Counts per (category, type) of the matches (`count` counts them when nothing cached
    has them); `generation` None bypasses every cache."""
    if parsed.is_empty and not unfiltered["tag"]:
        return summary_cells(status, generation=generation)
    key = ""
    if generation is not None and settings.MARKETPLACE_CACHE_TTL:
        key = _cells_cache_key(generation, parsed, status, unfiltered["tag"])
    cells = cache.get(key) if key else None
    if cells is None:
        if parsed.is_empty or parsed.has_positive:
            cells = count()
        else:
            # Everything but the excluded: the catalog's cells minus the (indexed) matches of
            # the excluded terms, never a count of nearly the whole catalog.
            unmatched = skills_filtered(unfiltered, status, is_counted=True)
            cells = _cells(
                ParsedQuery(),
                unfiltered,
                status,
                count=lambda: query_cells(unmatched),
                generation=generation,
            )
            cells = cells_minus(cells, _matched_cells(parsed.excluded(), unmatched))
        if key:
            cache.set(key, cells, timeout=settings.MARKETPLACE_CACHE_TTL)
    return cells


def _slice_of(ids: list[int]) -> RankedIds:
    def ranked_ids(offset: int, limit: int) -> list[int]:
        return ids[offset : offset + limit]

    return ranked_ids


# Without a query, "relevance" lists by name: the (status, category, slug) index serves it.
_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "relevance": ("slug",),
    "name": ("slug",),
    "newest": ("-created_at", "slug"),
    "popularity": ("-install_count", "slug"),
}


def _text_match(
    parsed: ParsedQuery, filtered: QuerySet, filters: Filters, status: str | None
) -> tuple[Q, RankedIds | None]:
    """A filter matching the query, and (for relevance) a function giving ranked page ids.

    A query of exclusions only matches everything but the excluded; with nothing to rank it
    lists by name (through the status index).
    """
    if not parsed.has_positive:
        return ~_positive_match(parsed.excluded()), None
    if connection.vendor == "postgresql":
        return postgres_match(parsed, filtered)
    # Most of the catalog is approved: another status narrows the matches as a filter does.
    is_other_status = status not in (SkillStatus.APPROVED, None)
    is_narrowed = is_other_status or any(filters[name] for name in ("category", "type", "tag"))
    return sqlite_match(parsed, filtered, is_narrowed=is_narrowed)


def _matched_cells(parsed: ParsedQuery, unmatched: QuerySet) -> Cells:
    """The cells of the skills matching the (positive) query, counted from the vendor's
    search index: PostgreSQL's search table, SQLite's FTS5 table joined to the skills."""
    if connection.vendor == "postgresql":
        return postgres_cells(parsed, unmatched)
    return sqlite_cells(parsed, unmatched)


def _positive_match(parsed: ParsedQuery) -> Q:
    if connection.vendor == "postgresql":
        return postgres_text_match(parsed)
    return fts_match(parsed)
