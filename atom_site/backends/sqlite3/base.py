"""Django's SQLite backend, with connections that the web's threads keep between requests.

A new SQLite connection costs more than the rest of a small request (it reads Atom's schema on
its first statement), so the threads serving HTTP (atom_site/http.py) mark theirs `is_kept`:
Django then never closes it for age. A statement left unfinished (an iterator abandoned
half-read) would keep its read transaction open, and the next request on that connection would
read an old snapshot; Python's `sqlite3` cannot say whether a connection has one. So this
backend remembers the cursors it hands out and closes any still open at each request's start
and end, where Django decides whether to keep the connection. Other threads (workers, writers)
close theirs at those points as before.
"""

from __future__ import annotations

import weakref

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    is_kept = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet = weakref.WeakSet()

    def connect(self) -> None:
        super().connect()
        if self.is_kept:
            self.close_at = None

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        self._cursors.add(cursor)
        return cursor

    def close_if_unusable_or_obsolete(self) -> None:
        # Only this connection's: a cursor still referenced after its connection was closed
        # (by Django, or by a test) cannot be closed again ("Cannot operate on a closed
        # database"), and holds nothing open.
        for cursor in list(self._cursors):
            if cursor.connection is self.connection:
                cursor.close()
        super().close_if_unusable_or_obsolete()
