"""The thread that writes batched log lines outlives a database it cannot reach (here
pytest-django's guard, which refuses every connection from any thread): each flush fails, the
lines it took go back to the queue, and they are written once the database is back."""

import time

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
    logs = Event.objects.filter(subject="run", subject_id=1, kind="log")
    buffer = LogBuffer()
    buffer.add(subject, ["before"])
    assert wait_for(logs.exists)  # written by the thread, on a connection it keeps open
    writer = buffer._thread

    with django_db_blocker.block():
        buffer.add(subject, ["while the database cannot be reached"])
        time.sleep(FLUSH_SECONDS * 5)
        assert writer.is_alive()

    assert buffer._thread is writer  # the same thread throughout
    # Written on a later flush; a loaded machine (both CI legs at once) can take seconds.
    assert wait_for(lambda: logs.count() == 2, seconds=60)
    assert "could not write log lines as events" in caplog.text
