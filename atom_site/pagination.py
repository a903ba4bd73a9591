"""The API's one page shape, for every list:

    {"items": [...], "count": N, "page": P, "page_size": S, "pages": K}

`count` is every item the filters match, `pages` is at least 1 (an empty list is one empty
page), and a page past the last answers its `items` empty with the same `count` and `pages`.
`page` above `MAX_PAGE` or `page_size` above `MAX_PAGE_SIZE` is a 422 naming the parameter,
so no request turns into an OFFSET past what SQL's integers hold.

The lists that grow fast (runs, samples) also answer `?cursor=` (`PageNumberOrCursor`).
"""

import base64
import json
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

from atom_site.errors import ApiError

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


SEQ_MAX = 2**63 - 1  # a 64-bit integer column's largest value, on SQLite and PostgreSQL


class EventsPage(Schema):
    """A page of a subject's live events (atom_site/events; docs/live-progress.md)."""

    items: list[dict[str, Any]] = Field(
        ..., description='Events in order: {"seq", "at", "kind", …the kind\'s fields}.'
    )
    next_after: int = Field(..., description="The seq of the last item (or `after`): ask next.")
    finished: bool = Field(..., description="The subject is finished and this is its last event.")


class CursorPageIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int | None = Field(
        None, ge=1, le=MAX_PAGE_SIZE, description="Defaults to the list's own page size."
    )
    cursor: str | None = Field(
        None,
        max_length=500,
        description="Cursor pages: empty for the first, then the `next` of the last answer.",
    )


class CursorPageOut(Schema):
    items: list[Any]
    count: int | None = Field(description="Null on a cursor page (nothing is counted).")
    page: int | None
    page_size: int
    pages: int | None
    next: str | None = Field(description="The cursor of the following rows; null at the end.")


class PageNumberOrCursor(PageNumber):
    """The page shape, plus cursors for lists that grow fast (runs, samples), where counting
    every row and OFFSET get slower as they grow and a page shifts when new rows arrive:

    - `?page=` (as everywhere): the page shape, and `next`, the cursor of the row after this
      page (null on the last page);
    - `?cursor=` (empty for the first page) or `?cursor=<next>`: the `page_size` rows after that
      one, and `next`; `count`, `page` and `pages` are null (nothing is counted). Rows that
      arrive meanwhile never shift a cursor page.

    The list must be ordered by its fields all descending or all ascending, ending with the
    primary key (`order_by("-created_at", "-id")`); a cursor holds the last row's values of them,
    so it stays valid whatever rows are added or removed."""

    Input = CursorPageIn
    Output = CursorPageOut

    def paginate_queryset(
        self, queryset: QuerySet, pagination: CursorPageIn, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        fields = _ordering_fields(queryset)
        if pagination.cursor is None:
            answer = super().paginate_queryset(queryset, pagination, request, **params)
            items = answer["items"] = list(answer["items"])
            more = items and answer["page"] * answer["page_size"] < answer["count"]
            return {**answer, "next": _cursor_of(items[-1], fields) if more else None}
        if "page" in request.GET:
            raise ApiError(422, "give either page or cursor, not both", field="cursor")
        page_size = pagination.page_size or self.page_size
        if pagination.cursor:
            queryset = queryset.filter(_after(queryset, fields, pagination.cursor))
        items = list(queryset[: page_size + 1])
        following = _cursor_of(items[page_size - 1], fields) if len(items) > page_size else None
        return {
            "items": items[:page_size],
            "count": None,
            "page": None,
            "page_size": page_size,
            "pages": None,
            "next": following,
        }


def _ordering_fields(queryset: QuerySet) -> list[str]:
    ordering = list(queryset.query.order_by or queryset.model._meta.ordering)
    descending = {field.startswith("-") for field in ordering}
    names = [field.lstrip("-") for field in ordering]
    if len(descending) != 1 or not names or names[-1] not in ("id", "pk"):
        raise ValueError(f"a cursor list needs one direction ending with the key, not {ordering}")
    return ordering


def _cursor_of(row: Any, fields: list[str]) -> str:
    values = [getattr(row, field.lstrip("-")) for field in fields]
    text = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(queryset: QuerySet, fields: list[str], cursor: str) -> Q:
    """Rows after the cursor's row in the list's order: (a, b) after (x, y) is a past x, or a
    equal to x and b past y."""
    invalid = ApiError(422, "not a cursor this list gave (use its `next`)", field="cursor")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(fields):
            raise invalid
        model = queryset.model
        names = [field.lstrip("-") for field in fields]
        values = [
            model._meta.pk.to_python(value) if name == "pk" else
            model._meta.get_field(name).to_python(value)
            for name, value in zip(names, values, strict=True)
        ]  # fmt: skip
    except (ValueError, TypeError, ValidationError):
        raise invalid from None
    past = "lt" if fields[0].startswith("-") else "gt"
    after = Q()
    for index, name in enumerate(names):
        equal = {names[i]: values[i] for i in range(index)}
        after |= Q(**equal, **{f"{name}__{past}": values[index]})
    return after
