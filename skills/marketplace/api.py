"""The marketplace API: one search endpoint over `skills.marketplace.search.skill_search`."""

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic_core import to_json

from atom_site.errors import ApiError, errors_documented
from skills.marketplace.search import SearchInvalid, SearchPage, skill_search
from skills.models import SkillStatus, SkillType

router = Router(tags=["marketplace"])

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"


class MarketplaceFilters(Schema):
    query: str = Field(
        "",
        max_length=settings.MARKETPLACE_MAX_QUERY_LENGTH,
        description='Web-search syntax: words, "phrases", -exclusions, `or`.',
    )
    category: str | None = Field(None, max_length=64, pattern=SLUG_PATTERN)
    type: SkillType | None = None
    tag: str | None = Field(None, max_length=64, pattern=NO_CONTROL_CHARACTERS)
    status: SkillStatus = Field(
        SkillStatus.APPROVED, description="Statuses other than approved need a staff user."
    )
    sort: Literal["relevance", "name", "newest", "popularity"] = "relevance"
    # A page far past any catalog is refused rather than turned into a huge OFFSET.
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(20, ge=1, le=settings.MARKETPLACE_MAX_PAGE_SIZE)


class InstallCostOut(Schema):
    package_count: int | None = Field(description="Packages the current version asks for.")
    environment_key: str | None = Field(
        description="The environment those packages make; null when this host refuses them."
    )
    environment_status: str | None = Field(
        description="pending, building, ready or failed; null when never requested here."
    )
    is_warm: bool = Field(description="Built and present on this host: installing is a lookup.")
    size_bytes: int | None
    build_seconds: float | None = Field(description="How long its last build took.")
    built_at: datetime | None
    run_p50_seconds: float | None = Field(
        description="Median run time of the current version (perf samples), when measured."
    )
    run_samples: int


class SkillHitOut(Schema):
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
    package_count: int | None = Field(
        description="Packages the current version asks for: what installing it costs."
    )
    created_at: datetime
    updated_at: datetime
    cost: InstallCostOut


class SearchPageOut(Schema):
    """The API's page shape (items, count, page, page_size, pages) and the search's own keys."""

    items: list[SkillHitOut]
    count: int
    page: int
    pages: int
    page_size: int
    query: str = Field(description="The query as it was understood (normalized).")
    sort: str
    facets: dict[str, dict[str, int]]
    is_fuzzy: bool = Field(description="Nothing matched exactly; these names are close to it.")


@router.get("/skills", response={200: SearchPageOut, **errors_documented(403, 422)}, auth=None)
def marketplace_search(request: HttpRequest, filters: Query[MarketplaceFilters]):
    """Search the catalog: ranked full text, filters, facets, pages of at most 100."""
    if filters.status != SkillStatus.APPROVED and not request.user.is_staff:
        raise PermissionDenied("only staff users may search skills that are not approved")
    try:
        page = skill_search(**filters.dict())
    except SearchInvalid as error:
        raise ApiError(
            422,
            f"{error.field}: {error.message}",
            errors=[{"field": error.field, "message": error.message}],
        ) from None
    return HttpResponse(search_page_json(page), content_type="application/json")


def search_page_json(page: SearchPage) -> bytes:
    """The page as `SearchPageOut` JSON, serialized straight from the dataclasses by pydantic's
    own encoder (same output, datetimes included): validating 20 items into the schema first
    cost more than the search (a test keeps the shapes equal)."""
    return to_json(page)
