"""A full-text search ranks its page on a helper connection while it counts the facets, and
falls back to its single-connection plan whenever a helper cannot see or take the work."""

import os
import threading

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from skills.marketplace.search import skill_search
from skills.marketplace.search.helpers import beside

RANKING = "ts_rank(" if connection.vendor == "postgresql" else "bm25("


def _ranked_in_caller(**search) -> tuple[list[str], bool]:
    """The page's slugs, and whether the ranking ran on the caller's own connection."""
    with CaptureQueriesContext(connection) as captured:
        page = skill_search(use_cache=False, **search)
    is_in_caller = any(RANKING in query["sql"] for query in captured.captured_queries)
    return [item.slug for item in page.items], is_in_caller


@pytest.mark.django_db(transaction=True)
def test_the_page_is_ranked_on_a_helper_with_the_same_result(catalog, settings):
    settings.MARKETPLACE_SEARCH_HELPERS = 2
    helped = _ranked_in_caller(query="pandas")
    settings.MARKETPLACE_SEARCH_HELPERS = 0
    alone = _ranked_in_caller(query="pandas")
    assert helped == (alone[0], False)
    assert alone[1] is True
    assert set(helped[0][:2]) == {"pandas-merge", "pandas-profile"}


@pytest.mark.django_db
def test_inside_a_transaction_nothing_is_handed_over(catalog):
    assert beside(lambda: 1) is None
    slugs, is_in_caller = _ranked_in_caller(query="pandas")
    assert is_in_caller
    assert "pandas-profile" in slugs


@pytest.mark.django_db(transaction=True)
def test_work_runs_on_a_helper_thread():
    result = beside(lambda: threading.current_thread().name)
    assert result is not None
    assert result().startswith("atom-search")


@pytest.mark.django_db(transaction=True)
def test_when_every_helper_is_busy_the_caller_keeps_the_work(settings):
    settings.MARKETPLACE_SEARCH_HELPERS = 2
    release = threading.Event()
    busy = [beside(release.wait), beside(release.wait)]
    try:
        assert None not in busy
        assert beside(lambda: 1) is None
    finally:
        release.set()
        assert [result() for result in busy] == [True, True]
    assert beside(lambda: 1)() == 1  # free again


@pytest.mark.django_db(transaction=True)
def test_a_database_error_on_the_helper_is_retried_in_the_caller():
    caller = threading.current_thread()

    def work() -> str:
        if threading.current_thread() is not caller:
            raise OperationalError("server closed the connection unexpectedly")
        return "ranked by the caller"

    assert beside(work)() == "ranked by the caller"


# A forked django-q2 worker is such a child: the fork is the point.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.django_db(transaction=True)
def test_a_forked_child_starts_its_own_helpers():
    assert beside(lambda: 1)() == 1  # the parent's helper threads exist
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, str(beside(lambda: 2)()).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        assert pipe.read() == "2"
