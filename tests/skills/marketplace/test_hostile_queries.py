"""Search queries from anywhere: `query_parse` reads any text into quoted words, and
`skill_search` answers a page or refuses with SearchInvalid naming the argument; never an
unhandled exception, and quickly (see docs/reliability.md).
"""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skills.marketplace.search import SearchInvalid, query_parse, skill_search
from skills.marketplace.search.query import MAX_TERMS, ParsedQuery

SECONDS = 1.0
# Everything, lone surrogates, NULs and control characters included.
any_character = st.characters(codec=None, categories=None)
operators_and_words = st.lists(
    st.sampled_from(
        [
            '"',
            "-",
            "or",
            "OR",
            "(",
            ")",
            "*",
            ":",
            "NEAR",
            "NOT",
            "AND",
            "'",
            "&",
            "|",
            "!",
            "^",
            "slug:",
            "\\",
            "\x00",
            "\ud800",
            "\u200f",
            "\u202e",
            " ",
            "  ",
            "pandas",
            "the",
            "a",
            "İ",
            "ß",
            "ǅ",
            "e\u0301",
            "\u0661",
        ]  # fmt: skip
    ),
    max_size=40,
).map("".join)
hostile_query = st.one_of(st.text(any_character, max_size=300), operators_and_words)


def parsed(text: str) -> ParsedQuery:
    started = time.perf_counter()
    query = query_parse(text)
    assert time.perf_counter() - started < SECONDS
    return query


@settings(max_examples=400)
@given(text=hostile_query)
def test_any_text_parses_into_quoted_words_the_databases_can_take(text):
    query = parsed(text)
    terms = [term for group in query.groups for term in group]
    assert len(terms) <= MAX_TERMS
    for term in terms:
        assert term.words
        for word in term.words:
            assert word
            assert '"' not in word
            assert not any(character.isspace() or character == "\x00" for character in word)
    # What reaches either database encodes as UTF-8: no lone surrogate gets through.
    for expression in (query.websearch(), query.fts5(), query.excluded().fts5()):
        expression.encode("utf-8")


def test_a_megabyte_of_text_parses_in_bounded_time():
    query = parsed('pandas "tables -' * 70_000)
    assert len([term for group in query.groups for term in group]) == MAX_TERMS


@pytest.mark.parametrize(
    ("text", "websearch"),
    [
        ('"unbalanced quote', '"unbalanced quote"'),
        ('"" - -- or OR or', ""),
        ("\x00pandas\x00", '"pandas"'),
        ("pan\ud800das", '"pan das"'),  # one token: its words are a phrase
        ("\u200fpandas\u200e", '"pandas"'),
        ('slug:pandas NEAR(a b) NOT "x" OR -y', '"slug pandas" "near a" "b" "x" or -"y"'),
    ],
)
def test_hostile_text_reads_as_words(text, websearch):
    assert parsed(text).websearch() == websearch


@pytest.mark.django_db
@settings(max_examples=60)
@given(
    query=st.one_of(hostile_query, st.text(any_character, min_size=250, max_size=600)),
    tag=st.one_of(
        st.none(),
        st.text(any_character, max_size=70),
        st.sampled_from(["strings", "\ud800", "a\udfffb", "tables\x00", "t" * 65]),
    ),
    use_cache=st.booleans(),
)
def test_a_search_answers_any_query_and_tag_or_names_the_argument(catalog, query, tag, use_cache):
    started = time.perf_counter()
    try:
        page = skill_search(query=query, tag=tag, use_cache=use_cache)
    except SearchInvalid as invalid:
        field = invalid.field
    else:
        field = None
        assert page.count >= 0
    assert time.perf_counter() - started < 5 * SECONDS
    if len(query) > 256:
        assert field == "query"
    elif tag is not None and (
        len(tag) > 64 or "\x00" in tag or any(0xD800 <= ord(c) <= 0xDFFF for c in tag)
    ):
        assert field == "tag"
    else:
        assert field is None


@pytest.mark.django_db
@pytest.mark.parametrize("argument", ["category", "type", "tag"])
def test_a_filter_with_a_lone_surrogate_is_refused_naming_it(catalog, argument):
    # Raised UnicodeEncodeError from the page's cache key (and the database driver).
    with pytest.raises(SearchInvalid) as refused:
        skill_search(**{argument: "text\ud800"})
    assert (refused.value.field, refused.value.message) == (
        argument,
        "must be at most 64 characters, without NUL or lone surrogates",
    )
