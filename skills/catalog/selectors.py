"""Reads of the catalog on hot paths, written so that they cost what the database costs."""

from __future__ import annotations

from django.db import router

from atom_site.rows import ForeignKeyRead
from skills.models import Skill

_SKILL_WITH_VERSION = ForeignKeyRead(Skill, through="current_version", where="slug", outer=True)


def skill_with_current_version(*, slug: str) -> Skill | None:
    """The skill named `slug` with `current_version` loaded (None if it has none), or None.

    Every run through the API starts here: one raw read (atom_site/rows.py), where the ORM
    spent several times longer building the joined query than the database spent answering
    it, and two reads cost two round trips.
    """
    return _SKILL_WITH_VERSION.first(slug, using=router.db_for_read(Skill))
