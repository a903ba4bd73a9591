"""Django's PostgreSQL backend, aware of statements sent ahead on its connection.

`atom_site.statements.statements_sent` sends statements and leaves their answer unread while
the caller works (a warm run's row while the runner makes the call; its result while the
answer is rendered). Until that answer is read the connection cannot carry anything else, so
this backend reads it first whenever the connection is about to be used (a cursor, a health
check, a change of autocommit: a transaction's start) or closed (given back to the pool at a
request's end).
`atom_site.middleware.SentWritesAwaitedMiddleware` reads it before a response leaves, so a
client never reads a run before its own write of it is on record.
"""

from __future__ import annotations

from django.db import Error
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight: list = []  # atom_site.statements.StatementsInFlight, oldest first

    def in_flight_awaited(self) -> None:
        """Read the answers of every statement sent ahead; raises the first one's error."""
        while self.in_flight:
            self.in_flight[0].result()  # drops itself from the list once read

    def create_cursor(self, name=None):
        self.in_flight_awaited()
        return super().create_cursor(name)

    def close_if_health_check_failed(self) -> None:
        self.in_flight_awaited()  # else the check's own query finds the connection busy
        super().close_if_health_check_failed()

    def is_usable(self) -> bool:
        try:
            self.in_flight_awaited()
        except (Error, base.Database.Error):  # answered with an error: start afresh
            return False
        return super().is_usable()

    def _set_autocommit(self, autocommit: bool) -> None:
        self.in_flight_awaited()
        super()._set_autocommit(autocommit)

    def close(self) -> None:
        try:
            self.in_flight_awaited()
        finally:
            self.in_flight.clear()
            super().close()
