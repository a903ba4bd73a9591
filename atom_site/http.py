"""Django's HTTP under uvicorn: each request in one hop to a fixed pool of threads.

Django's own ASGI handler runs a sync view and sync middleware through several hand-offs
between the event loop and threads (the request signals, each switch between async and sync
middleware, the view, the response's close), and gives every request a new thread: with
SQLite, a new connection too. Atom's views are sync (the ORM), so this handler reads the body
on the loop as Django does, then runs the whole request (signals, middleware, view) in one
thread of a pool that keeps its database connections between requests, and sends the answer
from the loop. docs/decisions.md ("HTTP in a pool of threads") has the figures.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix


class PooledHTTPHandler(ASGIHandler):
    """An ASGI app for HTTP that runs Django's sync request path in `threads` threads."""

    def __init__(self, *, threads: int) -> None:
        BaseHandler.__init__(self)  # not ASGIHandler's, which loads the middleware for async
        self.load_middleware(is_async=False)
        self.threads = ThreadPoolExecutor(
            threads, thread_name_prefix="atom-http", initializer=_connections_kept
        )

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"this handler serves HTTP, not {scope['type']}")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        response = await self._in_thread(self._respond, scope, body_file)
        if not response.streaming:
            await self.send_response(response, send)
        elif response.is_async:
            try:
                await self.send_response(response, send)
            finally:
                await self._in_thread(response.close)
        else:
            loop = asyncio.get_running_loop()
            await self._in_thread(self._stream_from_thread, response, send, loop)

    def _respond(self, scope: dict[str, Any], body_file) -> HttpResponseBase:
        """The request from start to finish (a streaming response is closed once sent)."""
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
            if not response.streaming:
                response.close()  # request_finished: the connections go back before sending
            return response

    def _stream_from_thread(self, response, send, loop: asyncio.AbstractEventLoop) -> None:
        """Send a sync streaming response (a file) from the thread that made it, as a WSGI
        server would: its iterator may hold that thread's database cursor."""

        def sent(message: dict[str, Any]) -> None:
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        try:
            sent(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": self._headers(response),
                }
            )
            for part in response:
                for chunk, _ in self.chunk_bytes(part):
                    sent({"type": "http.response.body", "body": chunk, "more_body": True})
            sent({"type": "http.response.body"})
        finally:
            response.close()

    @staticmethod
    def _headers(response: HttpResponseBase) -> list[tuple[bytes, bytes]]:
        """The response's headers and cookies, as Django's `send_response` encodes them."""
        headers = [
            (name.encode("ascii"), value.encode("latin1")) for name, value in response.items()
        ]
        headers.extend(
            (b"Set-Cookie", cookie.OutputString().encode("ascii"))
            for cookie in response.cookies.values()
        )
        return headers

    async def _in_thread(self, function, *args):
        """`function` in a thread of the pool, in that thread's own context, as a WSGI server's
        threads run their requests. Not in a copy of the loop's context per request: Django
        keeps its cache objects in asgiref's `Local`, a context variable, so every request
        built them again (with Redis, a client each: 0.46 ms a request)."""
        return await asyncio.get_running_loop().run_in_executor(self.threads, function, *args)


def _connections_kept() -> None:
    """A web thread keeps its SQLite connections between requests (atom_site/backends/sqlite3);
    PostgreSQL's go back to their pool at each request's end."""
    for alias in connections:
        if connections[alias].vendor == "sqlite":
            connections[alias].is_kept = True
