"""Telling the rest of Atom that the catalog changed.

A change is announced only after its transaction commits: the marketplace cache generation is
bumped at once (so every cached search is invalidated, without scanning keys, before the caller
returns) and an event is queued for the channel layer, for runners and live pages.

Sending on the channel layer costs milliseconds, so the site's one publisher thread does it
(atom_site/events/publish.py): the caller's path only appends to a queue.
"""

from typing import Any

from django.core.cache import cache
from django.db import transaction

from atom_site.events import publisher

CATALOG_GENERATION_KEY = "skills:catalog-generation"
SKILLS_GROUP = "skills"


def catalog_generation() -> int:
    """The current generation of the catalog; part of every marketplace cache key."""
    generation = cache.get(CATALOG_GENERATION_KEY)
    if generation is None:
        cache.add(CATALOG_GENERATION_KEY, 1, timeout=None)
        generation = cache.get(CATALOG_GENERATION_KEY, 1)
    return int(generation)


def catalog_generation_bump() -> int:
    try:
        return cache.incr(CATALOG_GENERATION_KEY)
    except ValueError:
        cache.add(CATALOG_GENERATION_KEY, 2, timeout=None)
        return int(cache.get(CATALOG_GENERATION_KEY, 2))


def catalog_changed(event: str, changes: list[dict[str, Any]]) -> None:
    """Announce `changes` (one dict per skill) once the current transaction commits."""
    if not changes:
        return

    def announce() -> None:
        catalog_generation_bump()
        publisher.publish(SKILLS_GROUP, {"event": event, "skills": changes})

    transaction.on_commit(announce)


def announcements_flush(timeout: float | None = None) -> bool:
    """Wait until every catalog event announced in this process has been sent."""
    return publisher.flush(timeout)
