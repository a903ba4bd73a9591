"""Telling the rest of Atom that the catalog changed.

A change is announced only after its transaction commits: the catalog's generation is bumped at
once (every cached search is invalidated, without scanning keys, and every process stops using
its copies of skills, before the caller returns) and an event is queued for the channel layer,
for runners and live pages. Every write of a skill or a version bumps the generation, whoever
makes it (`catalog_writes_followed`); the events are sent by the domain functions that know
what the change means.

Sending on the channel layer costs milliseconds, so the site's one publisher thread does it
(atom_site/events/publish.py): the caller's path only appends to a queue.
"""

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from atom_site.events import publisher
from atom_site.generations import SharedGeneration
from skills.models import Skill, SkillVersion, catalog_rows_written

CATALOG_GENERATION_KEY = "skills:catalog-generation"
# The shared counter is the marketplace's cache generation; each process also follows it
# without a round trip for its copies of skills (atom_site/generations.py).
CATALOG_GENERATION = SharedGeneration(CATALOG_GENERATION_KEY)
SKILLS_GROUP = "skills"


def catalog_generation() -> int:
    """The current generation of the catalog; part of every marketplace cache key."""
    generation = cache.get(CATALOG_GENERATION_KEY)
    if generation is None:
        cache.add(CATALOG_GENERATION_KEY, 0, timeout=None)
        generation = cache.get(CATALOG_GENERATION_KEY, 0)
    return int(generation)


def catalog_generation_bump() -> None:
    CATALOG_GENERATION.bump()


def catalog_generation_bump_on_commit(using: str | None = None) -> None:
    """Bump the generation when the current transaction commits (at once outside one); a run
    of writes with nothing else waiting for the commit between them bumps it once."""
    connection = transaction.get_connection(using)
    pending = connection.run_on_commit if connection.in_atomic_block else []
    if pending and pending[-1][1] is catalog_generation_bump:
        return
    transaction.on_commit(catalog_generation_bump, using=using)


def catalog_writes_followed() -> None:
    """Bump the generation after every committed write of a skill or a version."""
    for model in (Skill, SkillVersion):
        for signal in (post_save, post_delete, catalog_rows_written):
            signal.connect(_catalog_written, sender=model, dispatch_uid=f"catalog-{model.__name__}")


def _catalog_written(sender, using: str | None = None, **kwargs: Any) -> None:
    catalog_generation_bump_on_commit(using)


def catalog_changed(event: str, changes: list[dict[str, Any]]) -> None:
    """Announce `changes` (one dict per skill) once the current transaction commits."""
    if not changes:
        return

    def announce() -> None:
        publisher.publish(SKILLS_GROUP, {"event": event, "skills": changes})

    catalog_generation_bump_on_commit()  # before the event: who hears it reads the change
    transaction.on_commit(announce)


def announcements_flush(timeout: float | None = None) -> bool:
    """Wait until every catalog event announced in this process has been sent."""
    return publisher.flush(timeout)
