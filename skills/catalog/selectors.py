"""Reads of the catalog on hot paths, written so that they cost what the database costs."""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import Model

from skills.models import Skill, SkillVersion


def skill_with_current_version(*, slug: str) -> Skill | None:
    """The skill named `slug` with `current_version` loaded, or None.

    Every run through the API starts here. Two raw reads by unique keys: the ORM spent several
    times longer building the joined query than the database spent answering it.
    """
    skill = next(iter(Skill.objects.raw(_select_where(Skill, "slug"), [slug])), None)
    if skill is not None and skill.current_version_id is not None:
        skill.current_version = next(
            iter(
                SkillVersion.objects.raw(
                    _select_where(SkillVersion, "id"), [skill.current_version_id]
                )
            )
        )
    return skill


@functools.cache
def _select_where(model: type[Model], column: str) -> str:
    """Built once: Django quotes names the same way on SQLite and PostgreSQL."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(column)} = %s"
