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
from skills.models import Skill, SkillStatus
from skills.models.catalog import SEARCH_CONFIG

SORTS = ("relevance", "name", "newest", "popularity")
MAX_TERMS = 16
MAX_WORD_LENGTH = 64
# A typo pass looks at this many slugs at most, so its cost does not grow with the catalog.
TYPO_CANDIDATES = 200
TYPO_MIN_RATIO = 0.6
TYPO_MIN_LENGTH = 4
CACHE_VERSION = 1
# SQLite's FTS5 tables and the triggers keeping them in step (made by the migration).
SQLITE_SEARCH_TABLES = ("skills_skill_fts", "skills_skill_trgm")
SQLITE_SEARCH_TRIGGER_PREFIX = "skills_skill_search_"

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
        (FTS5's NOT needs a left side) and handled by `fts5_excluded` when no group is left."""
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

    def fts5_excluded(self) -> str:
        """Every excluded term as one FTS5 OR expression (for exclusion-only queries)."""
        negated = [term for group in self.groups for term in group if term.is_negated]
        return " OR ".join(_fts5_phrase(term) for term in negated)

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
        groups[-1].append(Term(words=words, is_negated=is_negated))
        count += 1
    return ParsedQuery(groups=tuple(tuple(group) for group in groups if group))


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
    with measure_performance(MARKETPLACE_SEARCH, sort=sort) as measurement:
        key = _cache_key(parsed, filters, status, sort, page, page_size)
        if use_cache:
            cached = cache.get(key)
            if cached is not None:
                measurement.context["cache_hit"] = True
                return cached
        measurement.context["cache_hit"] = False
        result = _search(parsed, filters, status, sort, page, page_size, use_cache=use_cache)
        if use_cache and settings.MARKETPLACE_CACHE_TTL:
            cache.set(key, result, timeout=settings.MARKETPLACE_CACHE_TTL)
        return result


def _cache_key(
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
    return f"marketplace:{CACHE_VERSION}:{catalog_generation()}:{digest}"


def _facet_cache_key(
    parsed: ParsedQuery, filters: dict[str, str | None], status: str | None, name: str
) -> str:
    others = [f"{key}={value or ''}" for key, value in filters.items() if key != name]
    material = "\x1f".join([parsed.normalized(), *others, status or "*", name, connection.vendor])
    digest = hashlib.sha256(material.encode()).hexdigest()[:32]
    return f"marketplace:facet:{CACHE_VERSION}:{catalog_generation()}:{digest}"


def _filtered(filters: dict[str, str | None], status: str | None, *, skip: str = "") -> QuerySet:
    queryset = Skill.objects.all()
    if status is not None:
        queryset = queryset.filter(status=status)
    for name in ("category", "type"):
        if filters[name] and name != skip:
            queryset = queryset.filter(**{name: filters[name]})
    if filters["tag"]:
        if connection.vendor == "postgresql":
            queryset = queryset.filter(tags__contains=[filters["tag"]])
        else:  # SQLite has no JSON containment lookup
            queryset = queryset.extra(
                where=["EXISTS (SELECT 1 FROM json_each(skills_skill.tags) WHERE value = %s)"],
                params=[filters["tag"]],
            )
    return queryset


def _search(
    parsed: ParsedQuery,
    filters: dict[str, str | None],
    status: str | None,
    sort: str,
    page: int,
    page_size: int,
    *,
    use_cache: bool,
) -> SearchPage:
    is_fuzzy = False
    match, ranked_ids = Q(), None
    if not parsed.is_empty:
        match, ranked_ids = _text_match(parsed, _filtered(filters, status))
    queryset = _filtered(filters, status).filter(match)
    total = queryset.count()
    if total == 0 and parsed.has_positive:
        fuzzy_ids = _typo_candidates(parsed, _filtered(filters, status))
        if fuzzy_ids:
            is_fuzzy = True
            match = Q(pk__in=fuzzy_ids)
            queryset = _filtered(filters, status).filter(match)
            total = len(fuzzy_ids)
            ranked_ids = _slice_of(fuzzy_ids)
    pages = max(1, math.ceil(total / page_size))
    offset = (page - 1) * page_size
    if sort == "relevance" and ranked_ids is not None:
        # Rank only the page: the vendor's index hands back the ranked ids of this page.
        page_ids = ranked_ids(offset, page_size)
        by_id = {skill.pk: skill for skill in _for_page(Skill.objects.filter(pk__in=page_ids))}
        skills = [by_id[pk] for pk in page_ids if pk in by_id]
    elif total:
        skills = list(_for_page(queryset.order_by(*_ORDERINGS[sort]))[offset : offset + page_size])
    else:
        skills = []
    facets = {}
    for name in ("category", "type"):
        # A facet depends on the query and the other filters only, not on sort, page or its
        # own filter: paging or switching category reuses it (cached apart from the page).
        key = None if is_fuzzy or not use_cache else _facet_cache_key(parsed, filters, status, name)
        counts = cache.get(key) if key else None
        if counts is None:
            counts = _facet(_filtered(filters, status, skip=name).filter(match), name)
            if key and settings.MARKETPLACE_CACHE_TTL:
                cache.set(key, counts, timeout=settings.MARKETPLACE_CACHE_TTL)
        facets[name] = counts
    return SearchPage(
        items=[_hit(skill) for skill in skills],
        total=total,
        page=page,
        pages=pages,
        page_size=page_size,
        query=parsed.normalized(),
        sort=sort,
        facets=facets,
        is_fuzzy=is_fuzzy,
    )


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


def _for_page(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("current_version").only(
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
    )


def _facet(queryset: QuerySet, name: str) -> dict[str, int]:
    rows = queryset.order_by().values_list(name).annotate(count=Count("pk")).order_by(name)
    return dict(rows)


def _hit(skill: Skill) -> SearchHit:
    version = skill.current_version
    return SearchHit(
        slug=skill.slug,
        category=skill.category,
        type=skill.type,
        status=skill.status,
        language=skill.language,
        description=skill.description,
        tags=list(skill.tags or []),
        version=version.version if version else None,
        install_count=skill.install_count,
        run_count=skill.run_count,
        package_count=len(version.requirements or []) if version else None,
        created_at=skill.created_at,
        updated_at=skill.updated_at,
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
    """A filter matching the query, and (for relevance) a function giving ranked page ids."""
    if connection.vendor == "postgresql":
        return _postgres_match(parsed, filtered)
    return _sqlite_match(parsed, filtered)


def _postgres_match(parsed: ParsedQuery, filtered: QuerySet) -> tuple[Q, Any]:
    search_query = SearchQuery(parsed.websearch(), search_type="websearch", config=SEARCH_CONFIG)
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
    if not parsed.has_positive:
        # Only exclusions: everything but the excluded (PostgreSQL's `!word` does the same).
        return ~Q(pk__in=RawSQL(_FTS_IDS, (parsed.fts5_excluded(),))), None
    expression = parsed.fts5()
    match = Q(pk__in=RawSQL(_FTS_IDS, (expression,)))

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


def _typo_candidates(parsed: ParsedQuery, filtered: QuerySet) -> list[int]:
    """Ids of skills whose slug is close to a searched word, best first (bounded work)."""
    words = [word for word in parsed.positive_words if len(word) >= TYPO_MIN_LENGTH]
    if not words:
        return []
    if connection.vendor == "postgresql":
        return _postgres_typo_candidates(words, filtered)
    return _sqlite_typo_candidates(words, filtered)


def _postgres_typo_candidates(words: list[str], filtered: QuerySet) -> list[int]:
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
            .values_list("pk", "slug")[:TYPO_CANDIDATES]
        )
    return _closest(words, rows)


def _sqlite_typo_candidates(words: list[str], filtered: QuerySet) -> list[int]:
    trigrams = sorted({word[i : i + 3] for word in words for i in range(len(word) - 2)})
    expression = " OR ".join(f'"{trigram}"' for trigram in trigrams)
    where_sql, where_params = _where_of(filtered)
    sql = (
        "SELECT skills_skill.id, skills_skill.slug FROM skills_skill_trgm "
        "JOIN skills_skill ON skills_skill.id = skills_skill_trgm.rowid "
        f"WHERE skills_skill_trgm MATCH %s{where_sql} "
        "ORDER BY skills_skill_trgm.rank LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, *where_params, TYPO_CANDIDATES])
        rows = cursor.fetchall()
    return _closest(words, rows)


def _closest(words: list[str], rows: list[tuple[int, str]]) -> list[int]:
    """Keep slugs with a word close to a searched word; closest first, then by name."""
    scored = []
    for pk, slug in rows:
        parts = slug.split("-")
        best = max(
            difflib.SequenceMatcher(None, word, part).ratio() for word in words for part in parts
        )
        if best >= TYPO_MIN_RATIO:
            scored.append((-best, slug, pk))
    scored.sort()
    return [pk for _, _, pk in scored]
