"""The columnar path of validation: a well-formed definition read as columns (ids, skills,
parents as position lists, each param key across all steps) with no object per step, checked
with C-level passes over those columns (`map`, `set`, one regular expression over all ids, one
over all reference paths) instead of a Python loop per step.

It can only say "valid". Anything it does not read exactly as the detailed path would (a `when`,
a `$literal`, a nested reference, a schema keyword beyond the simple ones, a duplicate in
`depends_on`…) or anything wrong sends the definition to the detailed path in
`workflows.validation`, which names every error. So it never has to produce an error, and never
decides one differently: it accepts a subset of what the detailed path accepts.
"""

from __future__ import annotations

import math
import operator
import re
from itertools import compress, repeat
from operator import contains, is_, is_not, itemgetter
from typing import Any

from django.conf import settings

from skills.models import SkillStatus
from workflows.catalog import Catalog, ColumnSchema, SkillFacts, catalog_read, column_schema
from workflows.catalog import schema_text as schema_text_of
from workflows.dag import Graph, graph_from_parents
from workflows.definitions import (
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_RETRY_DELAY,
    MAX_RETRIES,
    REF,
    STEP_FIELDS,
    Definition,
    header_read,
)

COLUMN_FIELDS = STEP_FIELDS - {"when"}
# Every id, each followed by "\n": one match checks them all (an id never holds "\n").
IDS = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_-]{0,99}\n)*")
# One reference path a line, as `definitions.ref_parse` reads it: the step's id, the input's name.
STEP_REFS = re.compile(r"^steps\.([^.\n]+)\.output(?:\.[^\n]*)?$", re.MULTILINE)
INPUT_REFS = re.compile(r"^inputs\.([^.\n]+)(?:\.[^\n]*)?$", re.MULTILINE)
SCALARS = frozenset({str, int, bool, type(None), float})
NUMBERS = frozenset({int, float})


class _Missing:
    """Where a step has no value under a key (None is a value)."""


MISSING = _Missing()
NO_SCHEMA = ColumnSchema(required=frozenset(), properties=frozenset(), is_open=True, checks={})
Columns = tuple[Definition, Graph, list[SkillFacts | None]]


class Detour(Exception):
    """Something the columnar path does not read (or something wrong): the detailed path."""


def columns_validate(raw: Any, *, max_steps: int) -> tuple[Columns | None, Catalog | None]:
    """The checked definition, its graph and the skill version of each step; or None, with the
    catalog rows when they were read already, for the detailed path to take over."""
    header, steps_raw, errors = header_read(raw, max_steps=max_steps)
    if header is None or steps_raw is None or errors:
        return None, None
    catalog = None
    try:
        reading = _StepsReading(steps_raw)
        graph = graph_from_parents(reading.ids, reading.parents)
        if graph is None or not graph.is_acyclic:
            raise Detour
        reading.refs_check(graph, header.input_names)
        catalog = catalog_read(slugs=reading.slugs, pins=reading.pins())
        facts = reading.facts(catalog)
        reading.params_check(facts)
    except Detour:
        return None, catalog
    header.steps_raw = steps_raw
    return (header, graph, facts), catalog


def _column(steps: list[dict], key: str, default: Any = None) -> list[Any]:
    return list(map(dict.get, steps, repeat(key), repeat(default)))


def _kinds(values: Any) -> set[type]:
    return set(map(type, values))


def _ref_targets(pattern: re.Pattern[str], paths: list[str]) -> list[str]:
    """What each path names (one match a line); Detour unless every path is a reference."""
    if not paths:
        return []
    text = "\n".join(paths)
    targets = pattern.findall(text)
    if len(targets) != len(paths) or text.count("\n") != len(paths) - 1:
        raise Detour
    return targets


def _numbers(values: list[Any], *, low: float, high: float, is_low_open: bool = False) -> None:
    """Every value a finite int or float within [low, high] (above low when `is_low_open`)."""
    kinds = _kinds(values)
    if not kinds <= NUMBERS or not values:
        raise Detour
    if float in kinds and not all(map(math.isfinite, (v for v in values if type(v) is float))):
        raise Detour
    smallest, largest = min(values), max(values)
    if smallest < low or (is_low_open and smallest == low) or largest > high:
        raise Detour


class _StepsReading:
    """The steps as columns; each check raises Detour when the detailed path must take over."""

    def __init__(self, steps: list[Any]) -> None:
        if _kinds(steps) != {dict}:
            raise Detour
        self.steps: list[dict[str, Any]] = steps
        self.keys = keys = set().union(*steps)
        if not keys <= COLUMN_FIELDS:
            raise Detour
        try:
            self.ids: list[str] = list(map(itemgetter("id"), steps))
            self.skills: list[str] = list(map(itemgetter("skill"), steps))
        except KeyError:
            raise Detour from None
        try:
            self.slugs = set(self.skills)
            ids_text = "\n".join(self.ids) + "\n"
        except TypeError:  # an id that is not a string, or a skill that is not hashable
            raise Detour from None
        if not _kinds(self.slugs) <= {str} or not IDS.fullmatch(ids_text):
            raise Detour
        self.position = dict(zip(self.ids, range(len(steps)), strict=True))
        if len(self.position) != len(steps):  # a duplicate id
            raise Detour
        self.versions: list[str | None] | None = None
        if "version" in keys:
            self.versions = _column(steps, "version")
            if not _kinds(self.versions) <= {str, type(None)} or "" in self.versions:
                raise Detour
        self._numbers_check()
        self.parents = self._parents_read()

    def _numbers_check(self) -> None:
        steps, keys = self.steps, self.keys
        if "timeout_seconds" in keys:
            timeouts = [t for t in _column(steps, "timeout_seconds") if t is not None]
            if timeouts:
                _numbers(timeouts, low=0, high=settings.ATOM_RUN_TIMEOUT_CAP, is_low_open=True)
        if "retries" in keys:
            retries = _column(steps, "retries", 0)
            if _kinds(retries) != {int} or min(retries) < 0 or max(retries) > MAX_RETRIES:
                raise Detour
        if "retry_delay_seconds" in keys:
            delays = _column(steps, "retry_delay_seconds", DEFAULT_RETRY_DELAY)
            _numbers(delays, low=0, high=math.inf)
        if "retry_backoff" in keys:
            _numbers(_column(steps, "retry_backoff", DEFAULT_RETRY_BACKOFF), low=1, high=math.inf)

    def _parents_read(self) -> list[list[int]]:
        count = len(self.steps)
        if "depends_on" not in self.keys:
            return [[] for _ in range(count)]
        wanted = _column(self.steps, "depends_on")
        if not _kinds(wanted) <= {list, type(None)}:
            raise Detour  # a single id as a string, or not a list: the detailed path
        position = self.position
        try:
            return [[position[name] for name in names] if names else [] for names in wanted]
        except (KeyError, TypeError):  # an unknown step, or a name that is not one
            raise Detour from None

    def refs_check(self, graph: Graph, inputs: frozenset[str]) -> None:
        """Every `{"$ref": …}` directly under a param key: a valid path, to a declared input or
        an upstream step. Collects, per key, where the references and the literals are."""
        steps = self.steps
        count = len(steps)
        self.params = params = _column(steps, "params") if "params" in self.keys else []
        if params:
            kinds = _kinds(params)
            if not kinds <= {dict, type(None)}:
                raise Detour
            if type(None) in kinds:
                params = self.params = [p if p is not None else {} for p in params]
        else:
            params = self.params = [{}] * count
        names = set().union(*params)
        if not _kinds(names) <= {str}:
            raise Detour
        owners: list[int] = []
        paths: list[Any] = []
        # key → (its column, whether some step lacks it, positions of its references or None
        # when all are references, whether it has literals)
        self.columns: dict[str, tuple[list[Any], bool, list[int] | None, bool]] = {}
        for name in names:
            column = _column(params, name, MISSING)
            kinds = _kinds(column)
            is_sparse = _Missing in kinds
            if dict not in kinds:
                self.columns[name] = (column, is_sparse, [], True)
                continue
            if kinds == {dict}:
                at = None
                refs = column
                owners.extend(range(count))
            else:
                at = [i for i, value in enumerate(column) if type(value) is dict]
                refs = [column[i] for i in at]
                owners.extend(at)
            if set(map(len, refs)) != {1}:
                raise Detour  # a `$literal`, a nested object, or `$ref` with company
            try:
                paths.extend(map(itemgetter(REF), refs))
            except KeyError:
                raise Detour from None
            self.columns[name] = (column, is_sparse, at, at is not None)
        if not paths:
            return
        if _kinds(paths) != {str}:
            raise Detour
        is_step = list(map(str.startswith, paths, repeat("steps.")))
        step_owners = list(compress(owners, is_step))
        step_targets = _ref_targets(STEP_REFS, list(compress(paths, is_step)))
        if len(step_targets) != len(paths):
            is_input = map(operator.not_, is_step)
            if not set(_ref_targets(INPUT_REFS, list(compress(paths, is_input)))) <= inputs:
                raise Detour
        try:
            target_positions = list(map(self.position.__getitem__, step_targets))
        except KeyError:
            raise Detour from None
        parents = graph.parents
        if all(map(contains, map(parents.__getitem__, step_owners), target_positions)):
            return
        for owner, target in zip(step_owners, target_positions, strict=True):
            if target not in parents[owner] and not graph.is_upstream(target, owner):
                raise Detour

    def pins(self) -> set[tuple[str, str]]:
        if self.versions is None:
            return set()
        return {pair for pair in zip(self.skills, self.versions, strict=True) if pair[1]}

    def facts(self, catalog: Catalog) -> list[SkillFacts | None]:
        """The skill version each step runs; every one approved and found."""
        keys: list[Any] = self.skills
        if self.versions is not None:
            keys = list(zip(self.skills, self.versions, strict=True))
        chosen: dict[Any, SkillFacts] = {}
        for key in set(keys):
            slug, version = key if self.versions is not None else (key, None)
            row = catalog.skills.get(slug)
            if row is None or row.status != SkillStatus.APPROVED:
                raise Detour
            facts = catalog.pinned.get((slug, version)) if version else row.current
            if facts is None:
                raise Detour
            chosen[key] = facts
        self.chosen = chosen
        hash_of = {key: facts.content_hash for key, facts in chosen.items()}
        self.hashes = list(map(hash_of.__getitem__, keys))
        return list(map(chosen.__getitem__, keys))

    def params_check(self, facts: list[SkillFacts | None]) -> None:
        """The literal params against each skill version's inputs schema, key by key: each
        distinct (version, value) checked once by the compiled check of that key's schema."""
        hashes = self.hashes
        schemas: dict[str, ColumnSchema] = {}
        for fact in self.chosen.values():
            if not fact.inputs_schema:
                schemas[fact.content_hash] = NO_SCHEMA
                continue
            schema = column_schema(fact.content_hash, schema_text_of(fact))
            if schema is None:
                raise Detour
            schemas[fact.content_hash] = schema
        required = set().union(*(s.required for s in schemas.values()))
        if required - self.columns.keys():
            raise Detour  # a key some skill version requires, in no step at all
        for name, (column, is_sparse, at, has_literals) in self.columns.items():
            present = set(schemas)
            if is_sparse:
                present = set(compress(hashes, map(is_not, column, repeat(MISSING))))
                if name in required:
                    absent = set(compress(hashes, map(is_, column, repeat(MISSING))))
                    if any(name in schemas[h].required for h in absent):
                        raise Detour
            for content_hash in present:
                schema = schemas[content_hash]
                if not schema.is_open and name not in schema.properties:
                    raise Detour  # an unknown key (a reference under one: the detailed path)
            if has_literals:
                self._literals_check(name, column, at, hashes, schemas)

    def _literals_check(
        self,
        name: str,
        column: list[Any],
        at: list[int] | None,
        hashes: list[str],
        schemas: dict[str, ColumnSchema],
    ) -> None:
        if at:  # some of the values are references: the literals are the others
            kept = [True] * len(column)
            for i in at:
                kept[i] = False
            column = list(compress(column, kept))
            hashes = list(compress(hashes, kept))
        kinds = _kinds(column)
        kinds.discard(_Missing)
        if not kinds <= SCALARS:
            raise Detour  # a literal list or object: the detailed path walks it
        if float in kinds and not all(
            math.isfinite(v) for v in column if type(v) is float
        ):  # fmt: skip
            raise Detour
        distinct = set(zip(hashes, map(type, column), column, strict=True))
        for content_hash, kind, value in distinct:
            if kind is _Missing:
                continue
            check = schemas[content_hash].checks.get(name)
            if check is None:
                continue
            try:
                check(value)
            except Exception:  # fastjsonschema's JsonSchemaException, or a check that broke
                raise Detour from None
