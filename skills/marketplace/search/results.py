"""What a search answers: a page of hits, each with its install cost, and how rows become hits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from skills.marketplace.install_cost import CostSubject, InstallCost, install_costs

# The ids of one page of matches, best first: (offset, limit) -> ids.
RankedIds = Callable[[int, int], list[int]]


@dataclass(frozen=True)
class SearchHit:
    slug: str
    category: str
    type: str
    status: str
    language: str
    description: str
    tags: list[str]
    version: str | None
    install_count: int
    run_count: int
    package_count: int | None
    created_at: datetime
    updated_at: datetime
    cost: InstallCost


@dataclass(frozen=True)
class SearchPage:
    items: list[SearchHit]
    count: int  # every matching skill, not only this page's
    page: int
    pages: int
    page_size: int
    query: str  # the normalized query
    sort: str
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    is_fuzzy: bool = False  # True when nothing matched exactly and slugs close to it are shown


# Plain rows, not model instances: building 40 instances a page cost as much as the query.
PAGE_FIELDS = (
    "pk",
    "slug",
    "category",
    "type",
    "status",
    "language",
    "description",
    "tags",
    "install_count",
    "run_count",
    "created_at",
    "updated_at",
    "current_version__version",
    "current_version__requirements",
    "current_version__content_hash",
)


def rows_for_page(queryset: QuerySet) -> QuerySet:
    return queryset.values(*PAGE_FIELDS)


def hits_of(rows: list[dict[str, Any]]) -> list[SearchHit]:
    subjects = [
        CostSubject(
            slug=row["slug"],
            language=row["language"],
            requirements=(
                tuple(row["current_version__requirements"] or [])
                if row["current_version__version"] is not None
                else None
            ),
            content_hash=row["current_version__content_hash"],
        )
        for row in rows
    ]
    costs = install_costs(subjects) if rows else {}
    return [_hit(row, costs[row["slug"]]) for row in rows]


def _hit(row: dict[str, Any], cost: InstallCost) -> SearchHit:
    return SearchHit(
        slug=row["slug"],
        category=row["category"],
        type=row["type"],
        status=row["status"],
        language=row["language"],
        description=row["description"],
        tags=list(row["tags"] or []),
        version=row["current_version__version"],
        install_count=row["install_count"],
        run_count=row["run_count"],
        package_count=cost.package_count,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        cost=cost,
    )
