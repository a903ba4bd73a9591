"""Middleware of Atom's own."""

from collections.abc import Callable

from django.db import connections
from django.http import HttpRequest, HttpResponse


class SentWritesAwaitedMiddleware:
    """A response leaves only once every write its request sent ahead is on record
    (atom_site.statements.statements_sent): a client that reads what it just made, on any
    connection, finds it. Outermost, so the writes travel while everything else answers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for connection in connections.all(initialized_only=True):
            if getattr(connection, "in_flight", None):
                connection.in_flight_awaited()
        return response
