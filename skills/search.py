"""Marketplace search: one function over the catalog, whatever the database.

`skill_search` filters by status, category, type and tag, matches a web-search style query
(words, "quoted phrases", -exclusions, `or`), ranks, paginates, counts facets and caches the
page. The vendor differences stay in this module:

- PostgreSQL matches the stored generated `tsvector` (`Skill.search`, GIN index) with
  `websearch_to_tsquery` and ranks with `ts_rank`; a typo falls back to trigram word similarity
  on slugs (pg_trgm, GIN trigram index).
- SQLite matches an FTS5 table kept in step by triggers and ranks with bm25 (same weight order);
  a typo falls back to a trigram FTS5 table over slugs, whose bounded candidate set is scored
  with difflib.

The user's query is parsed once into `ParsedQuery`; both vendors get an expression rebuilt from
it (every word quoted), so no character typed can change the query's structure.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.cache import cache
from django.core.exceptions import FullResultSet
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.expressions import RawSQL

from perf.operations import MARKETPLACE_SEARCH
from perf.recording import measure_performance
from skills.announcements import catalog_generation
from skills.install_cost import CostSubject, InstallCost, install_costs
from skills.models import Skill, SkillStatus
from skills.models.catalog import SEARCH_CONFIG

SORTS = ("relevance", "name", "newest", "popularity")
MAX_TERMS = 16
MAX_WORD_LENGTH = 64
# A typo pass looks at this many slugs at most, so its cost does not grow with the catalog.
TYPO_CANDIDATES = 200
TYPO_MIN_RATIO = 0.6
TYPO_MIN_LENGTH = 4
CACHE_VERSION = 3  # bumped whenever a cached shape (SearchPage, SearchHit, cells) changes
# The catalog summary is recomputed per catalog generation, and at least this often (seconds).
SUMMARY_MAX_AGE = 300
# SQLite's FTS5 tables and the triggers keeping them in step (made by the migration).
SQLITE_SEARCH_TABLES = ("skills_skill_fts", "skills_skill_trgm")
SQLITE_SEARCH_TRIGGER_PREFIX = "skills_skill_search_"

# PostgreSQL's `english` stop words: it leaves them out of every tsquery, so SQLite's query
# leaves them out too (the same answers on both; and "a" no longer matches the whole catalog).
STOP_WORDS = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself "
    "she her hers herself it its itself they them their theirs themselves what which who whom "
    "this that these those am is are was were be been being have has had having do does did "
    "doing a an the and but if or because as until while of at by for with about against "
    "between into through during before after above below to from up down in out on off over "
    "under again further then once here there when where why how all any both each few more "
    "most other some such no nor not only own same so than too very s t can will just don "
    "should now".split()
)
_TOKEN = re.compile(r'"[^"]*"?|\S+')
_WORD = re.compile(r"\w+")


class SearchInvalid(ValueError):
    """An argument of `skill_search` is out of range; the message names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# The parsed query ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase
    is_negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """Groups joined by OR; inside a group, terms are ANDed (negated ones excluded)."""

    groups: tuple[tuple[Term, ...], ...] = ()
    is_stop_words_only: bool = False  # words were typed, all of them stop words: no match

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def has_positive(self) -> bool:
        return any(not term.is_negated for group in self.groups for term in group)

    @property
    def positive_words(self) -> list[str]:
        return [
            word
            for group in self.groups
            for term in group
            if not term.is_negated
            for word in term.words
        ]

    def websearch(self) -> str:
        """The query in PostgreSQL's websearch syntax, every term quoted."""
        return " or ".join(
            " ".join(("-" if term.is_negated else "") + f'"{" ".join(term.words)}"' for term in g)
            for g in self.groups
        )

    def fts5(self) -> str:
        """The positive part as an FTS5 expression; groups with only exclusions are dropped
        (FTS5's NOT needs a left side); an exclusion-only query is `excluded()` negated."""
        parts = []
        for group in self.groups:
            positive = [term for term in group if not term.is_negated]
            negated = [term for term in group if term.is_negated]
            if not positive:
                continue
            expression = " AND ".join(_fts5_phrase(term) for term in positive)
            if negated:
                expression = f"({expression}) NOT ({' OR '.join(map(_fts5_phrase, negated))})"
            parts.append(f"({expression})")
        return " OR ".join(parts)

    def excluded(self) -> ParsedQuery:
        """Every excluded term as a positive one, ORed: what an exclusion-only query removes."""
        negated = [term for group in self.groups for term in group if term.is_negated]
        return ParsedQuery(groups=tuple((Term(words=term.words),) for term in negated))

    def normalized(self) -> str:
        return self.websearch()


def _fts5_phrase(term: Term) -> str:
    # Words hold only \w characters, so a double quote can never reach FTS5; quoting still
    # keeps FTS5 keywords (AND, OR, NOT, NEAR) and column filters literal.
    return '"' + " ".join(term.words) + '"'


def query_parse(text: str) -> ParsedQuery:
    """Parse web-search syntax: words, "phrases", -word / -"phrase", and `or` between terms.

    Anything that is not a word character only separates words, so metacharacters of either
    database's query language never reach it.
    """
    groups: list[list[Term]] = [[]]
    count = 0
    has_stop_words = False
    for token in _TOKEN.findall(text):
        if count >= MAX_TERMS:
            break
        if token.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        is_negated = token.startswith("-") and len(token) > 1
        if is_negated:
            token = token[1:]
        words = tuple(word[:MAX_WORD_LENGTH].lower() for word in _WORD.findall(token))
        if not words:
            continue
        if len(words) == 1 and words[0] in STOP_WORDS:
            has_stop_words = True
            continue
        groups[-1].append(Term(words=words, is_negated=is_negated))
        count += 1
    kept = tuple(tuple(group) for group in groups if group)
    return ParsedQuery(groups=kept, is_stop_words_only=has_stop_words and not kept)


# Results ---------------------------------------------------------------------------------------


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
    total: int
    page: int
    pages: int
    page_size: int
    query: str  # the normalized query
    sort: str
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    is_fuzzy: bool = False  # True when nothing matched exactly and slugs close to it are shown


# The search ------------------------------------------------------------------------------------


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
        if value is not None and (len(value) > 64 or "\x00" in value):
            raise SearchInvalid(name, "must be at most 64 characters, without NUL")
    parsed = query_parse(query)
    filters = {"category": category or None, "type": type or None, "tag": tag or None}
    if parsed.is_stop_words_only:
        return SearchPage(
            items=[],
            total=0,
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


def _cache_key(
    generation: int,
    parsed: ParsedQuery,
    filters: dict[str, str | None],
    status: str | None,
    sort: str,
    page: int,
    page_size: int,
) -> str:
    material = "\x1f".join(
        [
            parsed.normalized(),
            *(value or "" for value in filters.values()),
            status or "*",
            sort,
            str(page),
            str(page_size),
            connection.vendor,
        ]
    )
    digest = hashlib.sha256(material.encode()).hexdigest()[:32]
    return f"marketplace:{CACHE_VERSION}:{generation}:{digest}"


def _cells_cache_key(
    generation: int, parsed: ParsedQuery, status: str | None, tag: str | None
) -> str:
    material = "\x1f".join([parsed.normalized(), tag or "", status or "*", connection.vendor])
    digest = hashlib.sha256(material.encode()).hexdigest()[:32]
    return f"marketplace:cells:{CACHE_VERSION}:{generation}:{digest}"


def _filtered(
    filters: dict[str, str | None], status: str | None, *, is_counted: bool = False
) -> QuerySet:
    """The skills passing the filters; `is_counted` when all of them are to be counted rather
    than a page listed in index order."""
    queryset = Skill.objects.all()
    if status is not None:
        queryset = queryset.filter(status=status)
    for name in ("category", "type"):
        if filters[name]:
            queryset = queryset.filter(**{name: filters[name]})
    if filters["tag"]:
        if connection.vendor == "postgresql":
            queryset = queryset.filter(tags__contains=[filters["tag"]])
        else:
            queryset = _sqlite_tag_filtered(queryset, filters["tag"], is_counted=is_counted)
    return queryset


def _sqlite_tag_filtered(queryset: QuerySet, tag: str, *, is_counted: bool) -> QuerySet:
    # SQLite has no JSON containment lookup (nor an index for one). To count, the FTS5 table's
    # tags column narrows the candidates to skills whose tags hold the tag's words, and
    # json_each keeps those with exactly this tag; a page in index order just checks each row.
    words = _WORD.findall(tag.lower())
    if words and is_counted:
        queryset = queryset.filter(
            pk__in=RawSQL(_FTS_IDS, (f'tags : "{" ".join(words[:MAX_TERMS])}"',))
        )
    return queryset.extra(
        where=["EXISTS (SELECT 1 FROM json_each(skills_skill.tags) WHERE value = %s)"],
        params=[tag],
    )


# Facet cells ---------------------------------------------------------------------------------
#
# Counts per (category, type) of the skills matching the query, the status and the tag: the
# total and both facets are sums over these few cells (each facet ignoring its own filter),
# so one grouped count serves all three, and paging, sorting or picking a category or type
# reuses it. Without a query or a tag the cells come from the catalog summary: no count of
# the catalog on a request at all.

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


def _summary_cells(status: str | None, *, generation: int | None) -> Cells:
    cells: Cells = {}
    summary = catalog_summary(use_cache=generation is not None, generation=generation)
    for (cell_status, category, type_), count in summary.items():
        if status is None or cell_status == status:
            cells[category, type_] = cells.get((category, type_), 0) + count
    return cells


def _query_cells(queryset: QuerySet) -> Cells:
    rows = queryset.order_by().values_list("category", "type").annotate(count=Count("pk"))
    return {(category, type_): count for category, type_, count in rows}


def _total_and_facets(cells: Cells, filters: dict[str, str | None]) -> tuple[int, dict]:
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


# The page --------------------------------------------------------------------------------------


def _search(
    parsed: ParsedQuery,
    filters: dict[str, str | None],
    status: str | None,
    sort: str,
    page: int,
    page_size: int,
    *,
    generation: int | None,
) -> SearchPage:
    unfiltered = {"category": None, "type": None, "tag": filters["tag"]}
    filtered = _filtered(filters, status)
    match, ranked_ids = Q(), None
    if not parsed.is_empty:
        match, ranked_ids = _text_match(parsed, filtered)
    pages_offset = (page - 1) * page_size
    ranked_page: list[int] | None = None

    def count() -> Cells:
        nonlocal ranked_page
        unmatched = _filtered(unfiltered, status, is_counted=True)
        if ranked_ids is None:
            return _query_cells(unmatched.filter(match))
        if connection.vendor == "postgresql":
            if sort != "relevance":
                return _query_cells(unmatched.filter(match))
            cells, ranked_page = _postgres_cells_and_page(
                parsed, unmatched.filter(match), filters, pages_offset, page_size
            )
            return cells
        return _sqlite_cells(parsed, unmatched)

    cells = _cells(parsed, unfiltered, status, count=count, generation=generation)
    total, facets = _total_and_facets(cells, filters)
    is_fuzzy = False
    if total == 0 and parsed.has_positive:
        fuzzy = _typo_candidates(parsed, _filtered(unfiltered, status))
        fuzzy_total, fuzzy_facets = _total_and_facets(_fuzzy_cells(fuzzy), filters)
        if fuzzy_total:
            is_fuzzy = True
            total, facets, ranked_page = fuzzy_total, fuzzy_facets, None
            ranked_ids = _slice_of(
                [pk for pk, category, type_ in fuzzy if _is_in(category, type_, filters)]
            )
    pages = max(1, math.ceil(total / page_size))
    offset = pages_offset
    if offset >= total:
        rows = []
    elif ranked_ids is not None and (sort == "relevance" or is_fuzzy):
        # Rank only the page: the vendor's index hands back the ranked ids of this page.
        page_ids = ranked_page if ranked_page is not None else ranked_ids(offset, page_size)
        by_id = {row["pk"]: row for row in _for_page(Skill.objects.filter(pk__in=page_ids))}
        rows = [by_id[pk] for pk in page_ids if pk in by_id]
    else:
        ordered = filtered.filter(match).order_by(*_ORDERINGS[sort])
        rows = list(_for_page(ordered)[offset : offset + page_size])
    return SearchPage(
        items=_hits(rows),
        total=total,
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
    unfiltered: dict[str, str | None],
    status: str | None,
    *,
    count: Callable[[], Cells],
    generation: int | None,
) -> Cells:
    """Counts per (category, type) of the matches (`count` counts them when nothing cached
    has them); `generation` None bypasses every cache."""
    if parsed.is_empty and not unfiltered["tag"]:
        return _summary_cells(status, generation=generation)
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
            unmatched = _filtered(unfiltered, status, is_counted=True)
            cells = _cells(
                ParsedQuery(),
                unfiltered,
                status,
                count=lambda: _query_cells(unmatched),
                generation=generation,
            )
            excluded = _filtered(unfiltered, status, is_counted=True).filter(
                _positive_match(parsed.excluded())
            )
            cells = _cells_minus(cells, _query_cells(excluded))
        if key:
            cache.set(key, cells, timeout=settings.MARKETPLACE_CACHE_TTL)
    return cells


def _postgres_cells_and_page(
    parsed: ParsedQuery,
    matching: QuerySet,
    filters: dict[str, str | None],
    offset: int,
    limit: int,
) -> tuple[Cells, list[int]]:
    """The cells and the ranked ids of one page in one pass over the matched rows: the heap
    rows of a common term are read once, not once to count and again to rank."""
    where_sql, where_params = _where_of(matching)
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


def _sqlite_cells(parsed: ParsedQuery, unmatched: QuerySet) -> Cells:
    # Driven by the FTS5 table joined to the skills (through the covering index), rather
    # than `id IN (…)`, which first builds a temporary b-tree of every matched id.
    where_sql, where_params = _where_of(unmatched)
    sql = (
        "SELECT skills_skill.category, skills_skill.type, COUNT(*) FROM skills_skill_fts "
        "JOIN skills_skill ON skills_skill.id = skills_skill_fts.rowid "
        f"WHERE skills_skill_fts MATCH %s{where_sql} "
        "GROUP BY skills_skill.category, skills_skill.type"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [parsed.fts5(), *where_params])
        return {(category, type_): count for category, type_, count in cursor.fetchall()}


def _cells_minus(cells: Cells, removed: Cells) -> Cells:
    left = {cell: count - removed.get(cell, 0) for cell, count in cells.items()}
    return {cell: count for cell, count in left.items() if count > 0}


def _is_in(category: str, type_: str, filters: dict[str, str | None]) -> bool:
    return (not filters["category"] or category == filters["category"]) and (
        not filters["type"] or type_ == filters["type"]
    )


def _fuzzy_cells(fuzzy: list[tuple[int, str, str]]) -> Cells:
    cells: Cells = {}
    for _, category, type_ in fuzzy:
        cells[category, type_] = cells.get((category, type_), 0) + 1
    return cells


def _slice_of(ids: list[int]):
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


# Plain rows, not model instances: building 40 instances a page cost ~1 ms.
_PAGE_FIELDS = (
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


def _for_page(queryset: QuerySet) -> QuerySet:
    return queryset.values(*_PAGE_FIELDS)


def _hits(rows: list[dict[str, Any]]) -> list[SearchHit]:
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


def search_index_rebuild() -> None:
    """Rebuild SQLite's full-text tables from skills_skill (after writes that bypassed the
    triggers, e.g. a bulk load); PostgreSQL's generated column never needs it."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table in SQLITE_SEARCH_TABLES:
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


# Vendor parts ----------------------------------------------------------------------------------


def _text_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, Any]:
    """A filter matching the query, and (for relevance) a function giving ranked page ids.

    A query of exclusions only matches everything but the excluded; with nothing to rank it
    lists by name (through the status index).
    """
    if not parsed.has_positive:
        return ~_positive_match(parsed.excluded()), None
    if connection.vendor == "postgresql":
        return _postgres_match(parsed, filtered)
    return _sqlite_match(parsed, filtered)


def _positive_match(parsed: ParsedQuery) -> Q:
    if connection.vendor == "postgresql":
        return Q(search=_search_query(parsed))
    return Q(pk__in=RawSQL(_FTS_IDS, (parsed.fts5(),)))


def _search_query(parsed: ParsedQuery) -> SearchQuery:
    return SearchQuery(parsed.websearch(), search_type="websearch", config=SEARCH_CONFIG)


def _postgres_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, Any]:
    search_query = _search_query(parsed)
    match = Q(search=search_query)

    def ranked_ids(offset: int, limit: int) -> list[int]:
        ranked = (
            filtered.filter(match)
            .annotate(rank=SearchRank(F("search"), search_query))
            .order_by("-rank", "slug")
            .values_list("pk", flat=True)
        )
        return list(ranked[offset : offset + limit])

    return match, ranked_ids


_FTS_IDS = "SELECT rowid FROM skills_skill_fts WHERE skills_skill_fts MATCH %s"


def _sqlite_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, Any]:
    # The FTS5 match is an uncorrelated `id IN (…)`: SQLite runs it once per query.
    expression = parsed.fts5()
    match = _positive_match(parsed)

    def ranked_ids(offset: int, limit: int) -> list[int]:
        # bm25 over name, tags and description (weights set in the migration as the rank).
        where_sql, where_params = _where_of(filtered)
        sql = (
            "SELECT skills_skill.id FROM skills_skill_fts "
            "JOIN skills_skill ON skills_skill.id = skills_skill_fts.rowid "
            f"WHERE skills_skill_fts MATCH %s{where_sql} "
            "ORDER BY skills_skill_fts.rank, skills_skill.slug LIMIT %s OFFSET %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [expression, *where_params, limit, offset])
            return [row[0] for row in cursor.fetchall()]

    return match, ranked_ids


def _where_of(filtered: QuerySet) -> tuple[str, list[Any]]:
    """The WHERE clause of `filtered` (the marketplace filters on skills_skill) as ` AND (…)`."""
    compiler = filtered.query.get_compiler(connection=connection)
    try:
        where_sql, params = compiler.compile(filtered.query.where)
    except FullResultSet:  # no filter at all (every status)
        return "", []
    if not where_sql:
        return "", []
    return f" AND ({where_sql})", list(params)


def _typo_candidates(parsed: ParsedQuery, filtered: QuerySet) -> list[tuple[int, str, str]]:
    """(id, category, type) of skills whose slug is close to a searched word, best first
    (bounded work)."""
    words = [word for word in parsed.positive_words if len(word) >= TYPO_MIN_LENGTH]
    if not words:
        return []
    if connection.vendor == "postgresql":
        return _postgres_typo_candidates(words, filtered)
    return _sqlite_typo_candidates(words, filtered)


def _postgres_typo_candidates(words: list[str], filtered: QuerySet) -> list[tuple[int, str, str]]:
    from django.contrib.postgres.search import TrigramWordSimilarity

    condition = Q()
    for word in words:
        condition |= Q(slug__trigram_word_similar=word)
    similarity = sum(
        (TrigramWordSimilarity(word, "slug") for word in words[1:]),
        TrigramWordSimilarity(words[0], "slug"),
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            # `%>` uses this threshold. The default (0.6) misses transpositions in short words
            # (word_similarity of pnadas and pandas is 0.29); the candidates are few and
            # difflib has the last word.
            cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.25")
        rows = list(
            filtered.filter(condition)
            .annotate(similarity=similarity)
            .order_by("-similarity", "slug")
            .values_list("pk", "slug", "category", "type")[:TYPO_CANDIDATES]
        )
    return _closest(words, rows)


def _sqlite_typo_candidates(words: list[str], filtered: QuerySet) -> list[tuple[int, str, str]]:
    trigrams = sorted({word[i : i + 3] for word in words for i in range(len(word) - 2)})
    expression = " OR ".join(f'"{trigram}"' for trigram in trigrams)
    where_sql, where_params = _where_of(filtered)
    sql = (
        "SELECT skills_skill.id, skills_skill.slug, skills_skill.category, skills_skill.type "
        "FROM skills_skill_trgm "
        "JOIN skills_skill ON skills_skill.id = skills_skill_trgm.rowid "
        f"WHERE skills_skill_trgm MATCH %s{where_sql} "
        "ORDER BY skills_skill_trgm.rank LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, *where_params, TYPO_CANDIDATES])
        rows = cursor.fetchall()
    return _closest(words, rows)


def _closest(words: list[str], rows: list[tuple[int, str, str, str]]) -> list[tuple[int, str, str]]:
    """Keep slugs with a word close to a searched word; closest first, then by name."""
    scored = []
    for pk, slug, category, type_ in rows:
        parts = slug.split("-")
        best = max(
            difflib.SequenceMatcher(None, word, part).ratio() for word in words for part in parts
        )
        if best >= TYPO_MIN_RATIO:
            scored.append((-best, slug, pk, category, type_))
    scored.sort()
    return [(pk, category, type_) for _, _, pk, category, type_ in scored]
