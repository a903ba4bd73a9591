"""What validation needs of the skills catalog: the skill versions a workflow's steps run, read in
one query (two when versions are pinned) as plain rows, and each version's inputs schema
compiled once and kept by its content hash (a version never changes).

Both validation paths use this module: the columnar one (`workflows.columns`) and the detailed
one in `workflows.validation` that names every error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema
import jsonschema
from django.db import connections, router
from django.db.models import Q

from skills.models import Skill, SkillVersion

# Schema keywords the compiled checks read exactly as jsonschema's 2020-12 validator does;
# a schema with any other keyword is checked by jsonschema alone.
FAST_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "default",
        "description",
        "title",
        "examples",
    }
)
# Keywords of a params schema's top level the columnar check reads itself; the others only
# annotate. A schema with any further keyword at its top is checked step by step.
COLUMN_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "default", "description", "title",
     "examples"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SkillFacts:
    """What a step needs to know of the skill version it runs."""

    skill_id: int
    slug: str
    language: str
    version_id: int
    version: str
    content_hash: str
    inputs_schema: dict[str, Any] | None
    requirements: tuple[str, ...]
    timeout: float


@dataclass(frozen=True, slots=True)
class SkillRow:
    """A skill as validation sees it: its status and the version it runs by default."""

    status: str
    current: SkillFacts | None


@dataclass(slots=True)
class Catalog:
    """The skills a definition names, by slug, and the versions it pins, by (slug, version)."""

    skills: dict[str, SkillRow]
    pinned: dict[tuple[str, str], SkillFacts]


def catalog_read(*, slugs: Iterable[str], pins: Iterable[tuple[str, str]]) -> Catalog:
    """One query for the skills and their current versions (only the columns validation and the
    analysis read, as tuples), one more only when versions are pinned."""
    skills: dict[str, SkillRow] = {}
    ids: dict[str, int] = {}
    language_of: dict[int, str] = {}
    for skill_id, slug, status, language, version_id, *version in _skill_rows(sorted(slugs)):
        current = None
        if version_id is not None:
            current = _facts(skill_id, slug, language, version_id, *version)
        skills[slug] = SkillRow(status, current)
        ids[slug] = skill_id
        language_of[skill_id] = language
    pinned: dict[tuple[str, str], SkillFacts] = {}
    matches = Q()
    for slug, version in pins:
        if slug in ids:
            matches |= Q(skill_id=ids[slug], version=version)
    if matches:
        slug_of = {skill_id: slug for slug, skill_id in ids.items()}
        for version_id, skill_id, *version in (
            SkillVersion.objects.filter(matches)
            .order_by()
            .values_list(
                "id",
                "skill_id",
                "version",
                "content_hash",
                "inputs_schema",
                "requirements",
                "timeout",
            )  # fmt: skip
        ):
            slug = slug_of[skill_id]
            facts = _facts(skill_id, slug, language_of[skill_id], version_id, *version)
            pinned[(slug, facts.version)] = facts
    return Catalog(skills, pinned)


SKILL_COLUMNS = (
    "id",
    "slug",
    "status",
    "language",
    "current_version_id",
    "current_version__version",
    "current_version__content_hash",
    "current_version__inputs_schema",
    "current_version__requirements",
    "current_version__timeout",
)
# The statement by (database, number of slugs): building and compiling the same queryset was
# most of a 100-step workflow's budget (docs/decisions.md).
_skill_statements: dict[tuple[str, int], str] = {}


_inputs_schema_decode = SkillVersion._meta.get_field("inputs_schema").from_db_value
_requirements_decode = SkillVersion._meta.get_field("requirements").from_db_value


def _skill_rows(slugs: list[str]) -> list[tuple[Any, ...]]:
    """`Skill.objects.filter(slug__in=slugs).values_list(*SKILL_COLUMNS)`, its SQL compiled
    once per number of slugs."""
    if not slugs:
        return []  # as the ORM does: an empty IN asks the database nothing
    alias = router.db_for_read(Skill)
    key = (alias, len(slugs))
    statement = _skill_statements.get(key)
    if statement is None:
        queryset = (
            Skill.objects.using(alias).filter(slug__in=slugs).order_by().values_list(*SKILL_COLUMNS)
        )
        statement, params = queryset.query.sql_with_params()
        if list(params) != slugs:  # not the shape this shortcut expects: the ORM's own way
            return list(queryset)
        if len(_skill_statements) > 256:
            _skill_statements.clear()
        _skill_statements[key] = statement
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(statement, slugs)
        rows = cursor.fetchall()
    decoders = [(7, _inputs_schema_decode), (8, _requirements_decode)]
    converted = []
    for row in rows:
        values = list(row)
        for i, decode in decoders:
            values[i] = decode(values[i], None, connection)
        converted.append(tuple(values))
    return converted


def _facts(
    skill_id: int,
    slug: str,
    language: str,
    version_id: int,
    version: str,
    content_hash: str,
    inputs_schema: dict[str, Any] | None,
    requirements: list[str] | None,
    timeout: float,
) -> SkillFacts:
    return SkillFacts(
        skill_id=skill_id,
        slug=slug,
        language=language,
        version_id=version_id,
        version=version,
        content_hash=content_hash,
        inputs_schema=inputs_schema,
        requirements=tuple(requirements or ()),
        timeout=timeout,
    )


# A version's schema is immutable: its text is kept by content hash.
_schema_texts: dict[str, str] = {}


def schema_text(facts: SkillFacts) -> str:
    text = _schema_texts.get(facts.content_hash)
    if text is None:
        if len(_schema_texts) > 4096:
            _schema_texts.clear()
        text = _schema_texts[facts.content_hash] = json.dumps(facts.inputs_schema, sort_keys=True)
    return text


@lru_cache(maxsize=1024)
def validator(content_hash: str, text: str) -> jsonschema.Draft202012Validator:
    """jsonschema's validator of a version's inputs: the one that names every error."""
    return jsonschema.Draft202012Validator(json.loads(text))


def _compile(schema: Any) -> Callable[[Any], Any]:
    # Defaults off: a check must never write a schema's defaults into the params it reads.
    return fastjsonschema.compile(schema, use_formats=False, use_default=False)


@lru_cache(maxsize=2048)
def fast_validator(content_hash: str, text: str, ref_keys: frozenset[str]):
    """A compiled check of a step's params (far cheaper than jsonschema's; docs/decisions.md),
    or None when the schema uses a keyword outside FAST_KEYWORDS. Keys holding a reference
    accept anything here: their value is known at run time."""
    schema = json.loads(text)
    if not is_fast(schema):
        return None
    if ref_keys:
        properties = dict(schema.get("properties") or {})
        for key in ref_keys:
            properties[key] = {}
        schema = {**schema, "properties": properties}
    return _compile(schema)


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """A params schema split for the columnar check: which keys are required, whether keys
    beyond `properties` are allowed, and a compiled check of each property's value."""

    required: frozenset[str]
    properties: frozenset[str]
    is_open: bool  # keys beyond `properties` accepted
    checks: dict[str, Callable[[Any], Any]]


@lru_cache(maxsize=1024)
def column_schema(content_hash: str, text: str) -> ColumnSchema | None:
    """The schema as per-key checks, or None when its top level needs more than
    COLUMN_KEYWORDS (or any part of it more than FAST_KEYWORDS)."""
    schema = json.loads(text)
    if not isinstance(schema, dict) or not COLUMN_KEYWORDS.issuperset(schema):
        return None
    additional = schema.get("additionalProperties", True)
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    if type(additional) is not bool or type(properties) is not dict or type(required) is not list:
        return None
    if not all(type(name) is str for name in required):
        return None
    if schema.get("type", "object") != "object" or not is_fast(schema):
        return None
    return ColumnSchema(
        required=frozenset(required),
        properties=frozenset(properties),
        is_open=additional,
        checks={name: _compile(sub) for name, sub in properties.items()},
    )


def is_fast(schema: Any) -> bool:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, bool):
            continue
        if not isinstance(node, dict) or not FAST_KEYWORDS.issuperset(node):
            return False
        stack.extend((node.get("properties") or {}).values())
        for name in ("items", "additionalProperties"):
            if name in node:
                stack.append(node[name])
    return True
