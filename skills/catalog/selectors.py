"""Reads of the catalog on hot paths, written so that they cost what the database costs."""

from __future__ import annotations

from django.db import router

from atom_site.rows import ModelRows, Parts
from skills.models import Skill, SkillVersion


def _skill_with_version_sql(connection) -> tuple[Parts, str]:
    quote = connection.ops.quote_name
    current = Skill._meta.get_field("current_version")
    return (
        [(Skill, "s"), (SkillVersion, "v")],
        f"SELECT {{columns}} FROM {quote(Skill._meta.db_table)} s"
        f" LEFT JOIN {quote(SkillVersion._meta.db_table)} v"
        f" ON v.{quote(SkillVersion._meta.pk.column)} = s.{quote(current.column)}"
        f" WHERE s.{quote(Skill._meta.get_field('slug').column)} = %s",
    )


_SKILL_WITH_VERSION = ModelRows(_skill_with_version_sql)


def skill_with_current_version(*, slug: str) -> Skill | None:
    """The skill named `slug` with `current_version` loaded (None if it has none), or None.

    Every run through the API starts here: one raw read (atom_site/rows.py), where the ORM
    spent several times longer building the joined query than the database spent answering
    it, and two reads cost two round trips.
    """
    found = _SKILL_WITH_VERSION.first([slug], using=router.db_for_read(Skill))
    if found is None:
        return None
    skill, version = found
    field = Skill._meta.get_field("current_version")
    field.set_cached_value(skill, version if skill.current_version_id is not None else None)
    return skill
