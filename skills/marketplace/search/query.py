"""The user's query, parsed once: words, "phrases", -exclusions and `or`.

Both databases get an expression rebuilt from the parsed words (every term quoted), so no
character typed can change the query's structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TERMS = 16
MAX_WORD_LENGTH = 64
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
WORD = re.compile(r"\w+")


class SearchInvalid(ValueError):
    """An argument of `skill_search` is out of range; the message names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


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
        words = tuple(word[:MAX_WORD_LENGTH].lower() for word in WORD.findall(token))
        if not words:
            continue
        if len(words) == 1 and words[0] in STOP_WORDS:
            has_stop_words = True
            continue
        groups[-1].append(Term(words=words, is_negated=is_negated))
        count += 1
    kept = tuple(tuple(group) for group in groups if group)
    return ParsedQuery(groups=kept, is_stop_words_only=has_stop_words and not kept)
