"""HTTP as the ASGI server hands it to Atom: each request in one hop to a pool of threads that keep
their database connections, answered whole or streamed (atom_site/http.py), with SQLite
statements a request left unfinished closed at its end (atom_site/backends/sqlite3)."""

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core import signals
from django.core.cache import caches
from django.db import connection

from atom_site.http import PooledHTTPHandler
from skills.models import Skill

pytestmark = pytest.mark.django_db(transaction=True)


def asgi_request(
    handler: PooledHTTPHandler, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """(status, headers, body, number of body messages) of one request sent as a server sends it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-length", str(len(body)).encode())]
        + [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(handler(scope, receive, send))
    start, bodies = sent[0], sent[1:]
    assert start["type"] == "http.response.start"
    assert not bodies[-1].get("more_body", False)
    return (
        start["status"],
        dict(start["headers"]),
        b"".join(message.get("body", b"") for message in bodies),
        len(bodies),
    )


def in_thread_of(handler: PooledHTTPHandler, function):
    return handler.threads.submit(function).result()


@pytest.fixture
def handler_make() -> Iterator[Callable[[int], PooledHTTPHandler]]:
    """Handlers whose threads end (and drop their connections) after the test."""
    made: list[PooledHTTPHandler] = []

    def make(threads: int) -> PooledHTTPHandler:
        made.append(PooledHTTPHandler(threads=threads))
        return made[-1]

    yield make
    for handler in made:
        handler.threads.shutdown(wait=True)


def test_a_web_thread_keeps_its_database_connection_between_requests(skill_publish, handler_make):
    """SQLite's stays open in the thread; PostgreSQL's goes back to the pool at the end."""
    skill_publish("shout")
    handler = handler_make(1)
    held = []
    for _ in range(2):
        status, _headers, body, _messages = asgi_request(handler, "GET", "/api/skills/shout")
        assert status == 200, body
        assert json.loads(body)["slug"] == "shout"
        held.append(in_thread_of(handler, lambda: connection.connection))
    if connection.vendor == "sqlite":
        assert held[0] is not None
        assert held[1] is held[0]
    else:
        assert held == [None, None]


def test_a_web_thread_keeps_its_cache_objects_between_requests(handler_make):
    """Django keeps its cache objects in a context variable (asgiref's `Local`): a web thread
    runs its requests in its own context, so it builds them once, not for every request."""
    handler = handler_make(1)
    seen: list[object] = []  # held, so that no address is reused

    def cache_seen(**_) -> None:
        seen.append(caches["default"])

    signals.request_started.connect(cache_seen)
    try:
        for _ in range(3):
            assert asgi_request(handler, "GET", "/favicon.ico")[0] == 200
    finally:
        signals.request_started.disconnect(cache_seen)
    assert [cache is seen[0] for cache in seen] == [True, True, True]


def test_the_body_sent_in_pieces_reaches_the_view_and_errors_keep_their_shape(
    skill_publish, token_make, handler_make
):
    skill_publish("shout")
    token = token_make("run")
    handler = handler_make(2)

    def run_post(slug: str, body: bytes) -> tuple[int, dict]:
        status, _, answer, _ = asgi_request(
            handler,
            "POST",
            f"/api/skills/{slug}/run",
            body,
            content_type="application/json",
            authorization=f"Bearer {token}",
        )
        return status, json.loads(answer)

    status, answer = run_post("shout", b'{"params": {"text": ')
    assert (status, answer["errors"][0]["field"]) == (422, "body")
    status, answer = run_post("nope", b'{"params": {"text": "hi"}}')  # read whole, then refused
    assert (status, answer["errors"][0]["field"]) == (404, "slug")


def test_a_static_file_is_streamed_whole_in_chunks(handler_make):
    path = Path(finders.find("admin/js/vendor/jquery/jquery.js"))
    handler = handler_make(2)
    status, headers, body, messages = asgi_request(
        handler, "GET", "/static/admin/js/vendor/jquery/jquery.js"
    )
    assert status == 200
    assert body == path.read_bytes()
    assert messages > 2  # a start, then the file a chunk at a time, then the end
    assert int(headers[b"Content-Length"]) == len(body)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's read snapshots")
def test_a_statement_left_unfinished_is_closed_when_its_request_ends(skill_publish):
    skill_publish("first")
    skill_publish("second")
    counts: dict[str, int] = {}
    ready, written, ended = threading.Event(), threading.Event(), threading.Event()

    def request_thread() -> None:
        connection.is_kept = True  # as a web thread's (atom_site/http.py)
        half_read = Skill.objects.order_by("slug").iterator(chunk_size=1)
        next(half_read)  # abandoned: its statement holds a read snapshot
        ready.set()
        written.wait(10)
        counts["during"] = Skill.objects.count()
        signals.request_finished.send(sender=None)
        ended.set()
        counts["after"] = Skill.objects.count()
        half_read.close()
        connection.close()

    thread = threading.Thread(target=request_thread)
    thread.start()
    ready.wait(10)
    skill_publish("third")  # committed by this thread's own connection
    written.set()
    thread.join(10)
    assert ended.is_set()
    assert counts == {"during": 2, "after": 3}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="Atom's SQLite backend's cursors")
def test_a_cursor_left_from_a_closed_connection_does_not_break_the_next_request_s_cleanup(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    leftover = cursor.cursor  # still referenced, as a frame or a cycle may keep one
    connection.close()
    connection.ensure_connection()

    signals.request_finished.send(sender=None)  # closes the open cursors of each connection

    assert leftover.connection is not connection.connection
    assert Skill.objects.count() == 0
