"""The typo pass: when nothing matched exactly, skills whose name is close to a searched word.

A trigram index only finds a bounded set of candidate slugs (pg_trgm on PostgreSQL, an FTS5
trigram table on SQLite); difflib decides which are close, the same way on both.
"""

from __future__ import annotations

import difflib

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from .filters import where_of
from .query import ParsedQuery

# A typo pass looks at this many slugs at most, so its cost does not grow with the catalog.
TYPO_CANDIDATES = 200
TYPO_MIN_RATIO = 0.6
TYPO_MIN_LENGTH = 4


def typo_candidates(parsed: ParsedQuery, filtered: QuerySet) -> list[tuple[int, str, str]]:
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
    where_sql, where_params = where_of(filtered)
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
