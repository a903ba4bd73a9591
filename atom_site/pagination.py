"""The API's one page shape, for every list:

    {"items": [...], "count": N, "page": P, "page_size": S, "pages": K}

`count` is every item the filters match, `pages` is at least 1 (an empty list is one empty
page), and a page past the last answers its `items` empty with the same `count` and `pages`.
`page` above `MAX_PAGE` or `page_size` above `MAX_PAGE_SIZE` is a 422 naming the parameter,
so no request turns into an OFFSET past what SQL's integers hold.
"""

import math
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 100


class PageNumber(PaginationBase):
    """`@paginate(PageNumber, page_size=20)` under `response={200: list[ItemOut], ...}`."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(
            None, ge=1, le=MAX_PAGE_SIZE, description="Defaults to the list's own page size."
        )

    class Output(Schema):
        items: list[Any]
        count: int
        page: int
        page_size: int
        pages: int

    def __init__(self, *, page_size: int = 50, **kwargs: Any) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.page_size = page_size
        super().__init__(**kwargs)

    def paginate_queryset(
        self, queryset: QuerySet, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        page_size = pagination.page_size or self.page_size
        count = self._items_count(queryset)
        offset = (pagination.page - 1) * page_size
        items = queryset[offset : offset + page_size] if offset < count else []
        return {
            "items": items,
            "count": count,
            "page": pagination.page,
            "page_size": page_size,
            "pages": max(1, math.ceil(count / page_size)),
        }


class EventsPage(Schema):
    """A page of a subject's live events (atom_site/events; docs/live-progress.md)."""

    items: list[dict[str, Any]] = Field(
        ..., description='Events in order: {"seq", "at", "kind", …the kind\'s fields}.'
    )
    next_after: int = Field(..., description="The seq of the last item (or `after`): ask next.")
    finished: bool = Field(..., description="The subject is finished and this is its last event.")
