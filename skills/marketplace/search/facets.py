"""Facet cells: counts per (category, type) of the skills matching a query, its status and tag.

The total and both facets are sums over these few cells (each facet ignoring its own filter),
so one grouped count serves all three, and paging, sorting or picking a category or type
reuses it. Without a query or a tag the cells come from the catalog summary: no count of the
catalog on a request at all.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, QuerySet

from skills.catalog.announcements import catalog_generation
from skills.models import Skill

from .filters import Filters

CACHE_VERSION = 3  # bumped whenever a cached shape (SearchPage, SearchHit, cells) changes
# The catalog summary is recomputed per catalog generation, and at least this often (seconds).
SUMMARY_MAX_AGE = 300

Cells = dict[tuple[str, str], int]
CatalogSummary = dict[tuple[str, str, str], int]


def catalog_summary(*, use_cache: bool = True, generation: int | None = None) -> CatalogSummary:
    """Skills per (status, category, type) at the current catalog generation.

    One grouped scan of the catalog per generation (every import, update, approval and
    deprecation starts a new one), kept for `SUMMARY_MAX_AGE` seconds at most so a write that
    bypassed the announcements is seen within that time too.
    """
    if use_cache and generation is None:
        generation = catalog_generation()
    key = f"marketplace:summary:{CACHE_VERSION}:{generation}:{connection.vendor}"
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    rows = (
        Skill.objects.order_by()
        .values_list("status", "category", "type")
        .annotate(count=Count("pk"))
    )
    summary = {(status, category, type_): count for status, category, type_, count in rows}
    if use_cache:
        cache.set(key, summary, timeout=SUMMARY_MAX_AGE)
    return summary


def summary_cells(status: str | None, *, generation: int | None) -> Cells:
    cells: Cells = {}
    summary = catalog_summary(use_cache=generation is not None, generation=generation)
    for (cell_status, category, type_), count in summary.items():
        if status is None or cell_status == status:
            cells[category, type_] = cells.get((category, type_), 0) + count
    return cells


def query_cells(queryset: QuerySet) -> Cells:
    rows = queryset.order_by().values_list("category", "type").annotate(count=Count("pk"))
    return {(category, type_): count for category, type_, count in rows}


def total_and_facets(cells: Cells, filters: Filters) -> tuple[int, dict]:
    category, type_ = filters["category"], filters["type"]
    total = 0
    by_category: dict[str, int] = {}
    by_type: dict[str, int] = {}
    for (cell_category, cell_type), count in cells.items():
        is_category = not category or cell_category == category
        is_type = not type_ or cell_type == type_
        if is_category and is_type:
            total += count
        if is_type:  # the category facet ignores the category filter
            by_category[cell_category] = by_category.get(cell_category, 0) + count
        if is_category:
            by_type[cell_type] = by_type.get(cell_type, 0) + count
    facets = {"category": dict(sorted(by_category.items())), "type": dict(sorted(by_type.items()))}
    return total, facets


def cells_minus(cells: Cells, removed: Cells) -> Cells:
    left = {cell: count - removed.get(cell, 0) for cell, count in cells.items()}
    return {cell: count for cell, count in left.items() if count > 0}


def is_in(category: str, type_: str, filters: Filters) -> bool:
    return (not filters["category"] or category == filters["category"]) and (
        not filters["type"] or type_ == filters["type"]
    )


def fuzzy_cells(fuzzy: list[tuple[int, str, str]]) -> Cells:
    cells: Cells = {}
    for _, category, type_ in fuzzy:
        cells[category, type_] = cells.get((category, type_), 0) + 1
    return cells
