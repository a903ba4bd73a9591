"""The thread that writes batched log lines outlives a database it cannot reach (here
pytest-django's guard, which refuses every connection from any thread): each flush fails, the
lines it took go back to the queue, and they are written once the database is back."""

import threading
import time

from django.db import OperationalError, connections

from atom_site.events.record import FLUSH_SECONDS, LogBuffer, Subject
from atom_site.models import Event


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(FLUSH_SECONDS / 2)
    return True


def test_lines_logged_while_the_database_is_away_are_written_when_it_is_back(
    transactional_db, django_db_blocker, caplog
):
    subject = Subject("run", 1)
    away = "while the database cannot be reached"
    logs = Event.objects.filter(subject="run", subject_id=1, kind="log")
    buffer = LogBuffer()
    buffer.add(subject, ["before"])
    assert wait_for(logs.exists)  # written by the thread, on a connection it keeps open
    writer = buffer._thread

    with django_db_blocker.block():
        buffer.add(subject, [away])
        time.sleep(FLUSH_SECONDS * 5)
        assert writer.is_alive()

    assert buffer._thread is writer  # the same thread throughout
    # Written on a later flush; a loaded machine (both CI legs at once) can take seconds.
    assert wait_for(lambda: away in lines_written(), seconds=60)
    # Each line at least once: a flush cut off after its commit is written again.
    assert set(lines_written()) == {"before", away}
    assert "could not write log lines as events" in caplog.text


def lines_written() -> list[str]:
    events = Event.objects.filter(subject="run", subject_id=1, kind="log").order_by("seq")
    return [line for event in events for line in event.data["lines"]]


def test_a_flush_cut_off_after_its_commit_loses_no_later_line(transactional_db, monkeypatch):
    """The database goes as a flush's transaction ends (committed, autocommit not back on yet)
    and stays away for a few flushes; once it is back, every line is written."""
    subject = Subject("run", 1)
    wrapper = type(connections["default"])
    real_set_autocommit, real_ensure = wrapper.set_autocommit, wrapper.ensure_connection
    armed, away = threading.Event(), threading.Event()

    def in_writer() -> bool:
        return threading.current_thread().name == "atom-log-flusher"

    def set_autocommit(self, autocommit, *args, **kwargs):
        if autocommit and in_writer() and armed.is_set():
            armed.clear()
            away.set()
        return real_set_autocommit(self, autocommit, *args, **kwargs)

    def ensure_connection(self):
        if away.is_set() and in_writer():
            raise OperationalError("the database is away")
        return real_ensure(self)

    monkeypatch.setattr(wrapper, "set_autocommit", set_autocommit)
    monkeypatch.setattr(wrapper, "ensure_connection", ensure_connection)
    buffer = LogBuffer()
    armed.set()
    buffer.add(subject, ["first"])
    assert wait_for(away.is_set)
    buffer.add(subject, ["second"])
    time.sleep(FLUSH_SECONDS * 5)
    away.clear()

    assert wait_for(lambda: "second" in lines_written(), seconds=60)
    assert set(lines_written()) == {"first", "second"}
