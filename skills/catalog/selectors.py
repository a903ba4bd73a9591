"""Reads of the catalog on hot paths, written so that they cost what the database costs."""

from __future__ import annotations

from django.conf import settings
from django.db import connections, router

from atom_site.generations import ProcessCopies
from atom_site.rows import ForeignKeyRead
from skills.catalog.announcements import CATALOG_GENERATION
from skills.models import Skill

_SKILL_WITH_VERSION = ForeignKeyRead(Skill, through="current_version", where="slug", outer=True)
_skill_copies: ProcessCopies[Skill] = ProcessCopies(
    CATALOG_GENERATION, max_age=lambda: settings.ATOM_CATALOG_COPY_SECONDS
)


def skill_with_current_version(*, slug: str) -> Skill | None:
    """The skill named `slug` with `current_version` loaded (None if it has none), or None.

    Every run through the API starts here. A skill found is kept by this process until any
    write to the catalog commits (see skills/catalog/announcements.py), so a warm skill costs
    no round trip; the instance is shared by the process's threads: read it, never change it.
    Inside a transaction, which may have written the catalog itself, the database is read.
    Otherwise one raw read (atom_site/rows.py): the ORM spent several times longer building
    the joined query than the database spent answering it, and two reads cost two trips.
    """
    using = router.db_for_read(Skill)
    if connections[using].in_atomic_block:
        return _SKILL_WITH_VERSION.first(slug, using=using)
    return _skill_copies.get_or_read(slug, lambda: _SKILL_WITH_VERSION.first(slug, using=using))
