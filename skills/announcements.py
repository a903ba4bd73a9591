"""Telling the rest of Atom that the catalog changed.

A change is announced only after its transaction commits: the marketplace cache generation is
bumped (so every cached search is invalidated at once, without scanning keys) and an event goes
out on the channel layer for runners and live pages.
"""

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction

from atom_site.events import publish_event

logger = logging.getLogger(__name__)

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
        try:
            publish_event(SKILLS_GROUP, {"event": event, "skills": changes})
        except Exception:  # the change is committed; a listener can read it back
            logger.exception("could not publish %s for %d skill(s)", event, len(changes))

    transaction.on_commit(announce)
