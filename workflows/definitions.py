"""A workflow definition read from its JSON shape: every field checked, defaults filled in, the
references in params found once, and the content hash that decides whether it is a new version.

This module knows nothing of the database: the graph is checked in `workflows.dag` and the
skills in `workflows.validation`, which calls this first. See docs/workflows.md for the shape.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jsonschema
from django.utils.text import slugify

from workflows.errors import DefinitionError

SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
# No dots: a reference names a step as `steps.<id>.output`.
STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")
TOP_FIELDS = frozenset(
    {"name", "slug", "version", "description", "inputs", "steps", "timeout_seconds", "cache",
     "on_failure"}
)  # fmt: skip
STEP_FIELDS = frozenset(
    {
        "id",
        "skill",
        "version",
        "params",
        "depends_on",
        "timeout_seconds",
        "retries",
        "retry_delay_seconds",
        "retry_backoff",
        "when",
        "cache",
    }
)
# What a failed step does to the rest of its run: stop it at once (the default), or let the
# steps that do not depend on the failure finish first.
ON_FAILURE = ("stop", "finish_branches")
DEFAULT_VERSION = "1.0.0"
DEFAULT_INPUTS: dict[str, Any] = {"type": "object", "properties": {}}
MAX_RETRIES = 100
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_RETRY_BACKOFF = 2.0
REF = "$ref"
LITERAL = "$literal"
_SCALARS = (str, bool, int, type(None))
_SCALARS_SET = frozenset(_SCALARS)
_NUMBERS = (int, float)
# Past it an int cannot become a float (seconds are floats): an int that large is no number here.
FLOAT_MAX = sys.float_info.max


@dataclass(frozen=True, slots=True)
class Ref:
    """One `{"$ref": …}` in a step: where it sits (`params.url`, `when`) and what it names."""

    location: str
    path: str
    kind: str  # "inputs" or "steps"
    target: str  # the input's name or the step's id
    top_key: str | None  # the params key it sits under, when it sits directly under one


@dataclass(slots=True)
class StepSpec:
    id: str
    index: int
    skill: str
    version: str | None
    params: dict[str, Any]
    depends_on: list[str]
    timeout_seconds: float | None
    retries: int
    retry_delay_seconds: float
    retry_backoff: float
    when: dict[str, Any] | None
    refs: list[Ref] = field(default_factory=list)
    # Where each `{"$ref": …}` sits in the params, valid or not, and the top-level key it sits
    # under (None when deeper): their values are not the definition's to check.
    masks: list[tuple[str, str | None]] = field(default_factory=list)
    is_json: bool = True  # False: the params hold a value JSON cannot carry (already reported)
    # True when a reference sits deeper than a top-level param (the schema check must then
    # take the careful path).
    has_nested_refs: bool = False
    # Cacheable: a run reuses the output of an earlier run of the same skill version, params and
    # environment lock within the TTL (None: ATOM_STEP_CACHE_TTL).
    cache: bool = False
    cache_ttl_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        step: dict[str, Any] = {"id": self.id, "skill": self.skill}
        if self.version is not None:
            step["version"] = self.version
        step["params"] = self.params
        step["depends_on"] = self.depends_on
        if self.timeout_seconds is not None:
            step["timeout_seconds"] = self.timeout_seconds
        step["retries"] = self.retries
        step["retry_delay_seconds"] = self.retry_delay_seconds
        step["retry_backoff"] = self.retry_backoff
        if self.when is not None:
            step["when"] = self.when
        if self.cache:
            step["cache"] = cache_as_value(self.cache_ttl_seconds)
        return step


@dataclass(slots=True)
class Definition:
    """A read definition. Its steps are either read already (`step_specs`, the detailed path) or
    kept as the checked JSON (`steps_raw`, the columnar path) and read on first use: validating
    needs no object per step, saving does."""

    name: str
    slug: str
    version: str
    description: str
    inputs: dict[str, Any]
    step_specs: list[StepSpec] | None = None
    steps_raw: list[dict[str, Any]] | None = None
    # Run-wide options; left out of `as_dict` at their defaults, so that definitions saved
    # before they existed keep their content hash.
    timeout_seconds: float | None = None
    cache: bool = False
    cache_ttl_seconds: float | None = None
    on_failure: str = "stop"

    @property
    def steps(self) -> list[StepSpec]:
        if self.step_specs is None:
            self.step_specs = [
                _step_fast(raw, index) or _step_parse(raw, index, [])
                for index, raw in enumerate(self.steps_raw or ())
            ]
        return self.step_specs

    @property
    def input_names(self) -> frozenset[str]:
        return frozenset((self.inputs.get("properties") or {}).keys())

    def as_dict(self) -> dict[str, Any]:
        """The normalized definition (defaults filled in): what a version stores."""
        normalized: dict[str, Any] = {
            "name": self.name,
            "slug": self.slug,
            "version": self.version,
            "description": self.description,
            "inputs": self.inputs,
            "steps": [step.as_dict() for step in self.steps],
        }
        if self.timeout_seconds is not None:
            normalized["timeout_seconds"] = self.timeout_seconds
        if self.cache:
            normalized["cache"] = cache_as_value(self.cache_ttl_seconds)
        if self.on_failure != "stop":
            normalized["on_failure"] = self.on_failure
        return normalized

    def content_hash(self) -> str:
        return content_hash_of(self.as_dict())


def cache_as_value(ttl_seconds: float | None) -> bool | dict[str, float]:
    return True if ttl_seconds is None else {"ttl_seconds": ttl_seconds}


def cache_parse(value: Any) -> tuple[bool, float | None] | str:
    """(cacheable, ttl or None for the default) of a `cache` field, or why it is not one."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, Mapping) and set(value) == {"ttl_seconds"}:
        ttl = value["ttl_seconds"]
        if _is_number(ttl) and ttl > 0:
            return True, float(ttl)
    return 'true, false, or {"ttl_seconds": <seconds above 0>}'


def content_hash_of(definition: Mapping[str, Any]) -> str:
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def slug_from_name(name: str) -> str:
    return slugify(name)[:64].strip("-")


def definition_parse(
    raw: Any, *, max_steps: int
) -> tuple[Definition | None, list[DefinitionError]]:
    """Read a definition, collecting every error in its own fields (not yet the graph's or the
    skills'). None when it is too broken to go on (not a mapping, no steps list, too many)."""
    header, steps_raw, errors = header_read(raw, max_steps=max_steps)
    if header is None or steps_raw is None:
        return None, errors
    steps = []
    for index, step_raw in enumerate(steps_raw):
        step = _step_fast(step_raw, index) or _step_parse(step_raw, index, errors)
        if step is not None:
            steps.append(step)
    header.step_specs = steps
    return header, errors


def header_read(
    raw: Any, *, max_steps: int
) -> tuple[Definition | None, list[Any] | None, list[DefinitionError]]:
    """The definition's own fields (a `Definition` with no steps read yet), its list of steps
    (None when there is none to read, or too many), and the errors of those fields."""
    errors: list[DefinitionError] = []
    if not isinstance(raw, Mapping):
        kind = type(raw).__name__
        message = f"a workflow definition is a mapping (JSON object), not {kind}"
        return None, None, [DefinitionError("not_a_mapping", "definition", message)]
    for key in raw:
        if key not in TOP_FIELDS:
            errors.append(DefinitionError("unknown_field", str(key), _unknown(key, TOP_FIELDS)))
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list):
        message = "required: a list of steps" if steps_raw is None else "must be a list of steps"
        errors.append(DefinitionError("invalid", "steps", message))
        steps_raw = None
    elif len(steps_raw) > max_steps:
        # Refused before any step is read: the cost stays bounded whatever the size.
        message = (
            f"{len(steps_raw):,} steps; at most {max_steps:,} are allowed (ATOM_WORKFLOW_MAX_STEPS)"
        )
        return None, None, [DefinitionError("too_many_steps", "steps", message)]
    elif not steps_raw:
        errors.append(DefinitionError("invalid", "steps", "a workflow needs at least one step"))

    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(DefinitionError("invalid", "name", "required: a non-empty string"))
        name = ""
    elif len(name) > 200:
        errors.append(DefinitionError("invalid", "name", "at most 200 characters"))
    slug = raw.get("slug")
    if slug is None:
        slug = slug_from_name(name) if name else ""
        if name and not SLUG.match(slug):
            message = f"{name!r} makes no usable slug; give one in `slug`"
            errors.append(DefinitionError("invalid", "slug", message))
    elif not isinstance(slug, str) or not SLUG.match(slug) or len(slug) > 64:
        message = "lowercase words joined by hyphens (e.g. `daily-report`), at most 64 characters"
        errors.append(DefinitionError("invalid", "slug", message))
        slug = ""
    version = raw.get("version", DEFAULT_VERSION)
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        errors.append(DefinitionError("invalid", "version", "a string of at most 64 characters"))
        version = DEFAULT_VERSION
    description = raw.get("description", "")
    if not isinstance(description, str):
        errors.append(DefinitionError("invalid", "description", "must be a string"))
        description = ""
    inputs = raw.get("inputs")
    if inputs is None:
        inputs = dict(DEFAULT_INPUTS)
    else:
        inputs_error = _inputs_check(inputs)
        if inputs_error:
            errors.append(DefinitionError("invalid_schema", "inputs", inputs_error))
            inputs = dict(DEFAULT_INPUTS)
    run_timeout = raw.get("timeout_seconds")
    if run_timeout is not None and (not _is_number(run_timeout) or run_timeout <= 0):
        errors.append(DefinitionError("invalid", "timeout_seconds", "a number of seconds above 0"))
        run_timeout = None
    cache = cache_parse(raw.get("cache", False))
    if isinstance(cache, str):
        errors.append(DefinitionError("invalid", "cache", cache))
        cache = (False, None)
    on_failure = raw.get("on_failure", "stop")
    if on_failure not in ON_FAILURE:
        errors.append(DefinitionError("invalid", "on_failure", f"one of: {', '.join(ON_FAILURE)}"))
        on_failure = "stop"
    header = Definition(
        name=name.strip(),
        slug=slug,
        version=version.strip(),
        description=description,
        inputs=dict(inputs),
        timeout_seconds=None if run_timeout is None else float(run_timeout),
        cache=cache[0],
        cache_ttl_seconds=cache[1],
        on_failure=on_failure,
    )
    return header, steps_raw, errors


def _unknown(key: Any, known: frozenset[str]) -> str:
    return f"unknown field {key!r}; known: {', '.join(sorted(known))}"


def _inputs_check(inputs: Any) -> str:
    if not isinstance(inputs, Mapping):
        return "must be a JSON Schema object"
    problem = json_problem(inputs)
    if problem:
        return problem
    return _schema_problem(json.dumps(inputs, sort_keys=True))


@lru_cache(maxsize=1024)
def _schema_problem(schema_text: str) -> str:
    schema = json.loads(schema_text)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return f"not a valid JSON Schema: {error.message}"
    if schema.get("type", "object") != "object":
        return 'the inputs schema describes an object (`"type": "object"`)'
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return "`properties` must be an object"
    return ""


def json_problem(value: Any) -> str:
    """Why `value` is not plain JSON (a YAML date, a Python set, NaN…), or ""."""
    stack = [(value, "")]
    while stack:
        item, where = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is float:
            if not math.isfinite(item):
                return f"{where or 'value'}: {item} is not a JSON number"
            continue
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{where or 'value'}: key {key!r} is not a string"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            prefix = f"{where}." if where else ""
            stack.extend((child, f"{prefix}{i}") for i, child in enumerate(item))
        else:
            return f"{where or 'value'}: {kind.__name__} is not a JSON value"
    return ""


def _step_fast(raw: Any, index: int) -> StepSpec | None:
    """The common well-formed step read in one pass (10,000 of them must validate in a few
    milliseconds); None sends anything unusual or wrong to `_step_parse`, which reports it."""
    if type(raw) is not dict or not STEP_FIELDS.issuperset(raw) or "when" in raw or "cache" in raw:
        return None
    get = raw.get
    step_id = get("id")
    skill = get("skill")
    if type(step_id) is not str or type(skill) is not str or not skill:
        return None
    if not STEP_ID.match(step_id):
        return None
    version = get("version")
    if version is not None and (type(version) is not str or not version):
        return None
    timeout = get("timeout_seconds")
    if timeout is not None and (type(timeout) not in _NUMBERS or not 0 < timeout <= FLOAT_MAX):
        return None
    retries = get("retries", 0)
    if type(retries) is not int or not 0 <= retries <= MAX_RETRIES:
        return None
    delay = get("retry_delay_seconds", DEFAULT_RETRY_DELAY)
    backoff = get("retry_backoff", DEFAULT_RETRY_BACKOFF)
    if type(delay) not in _NUMBERS or type(backoff) not in _NUMBERS:
        return None
    if not 0 <= delay <= FLOAT_MAX or not 1 <= backoff <= FLOAT_MAX:
        return None
    depends_on = get("depends_on")
    if depends_on is None:
        depends_on = []
    elif type(depends_on) is not list:
        return None
    else:
        for parent in depends_on:
            if type(parent) is not str:
                return None
    params = get("params")
    if params is None:
        params = {}
    elif type(params) is not dict:
        return None
    refs = []
    masks = []
    for key, value in params.items():
        kind = type(value)
        if kind in _SCALARS_SET:
            continue
        if kind is dict and len(value) == 1 and REF in value:
            parsed = ref_parse(value[REF])
            if type(parsed) is str:
                return None
            where = "params." + key
            masks.append((where, key))
            refs.append(Ref(where, value[REF], parsed[0], parsed[1], key))
            continue
        if kind is float and -math.inf < value < math.inf:
            continue
        return None
    return StepSpec(
        step_id,
        index,
        skill,
        version,
        params,
        depends_on,
        None if timeout is None else float(timeout),
        retries,
        float(delay),
        float(backoff),
        None,
        refs,
        masks,
    )


def _step_parse(raw: Any, index: int, errors: list[DefinitionError]) -> StepSpec | None:
    if not isinstance(raw, Mapping):
        message = f"a step is a mapping (JSON object), not {type(raw).__name__}"
        errors.append(DefinitionError("invalid", "step", message, index=index))
        return None
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not STEP_ID.match(step_id):
        message = (
            "required: letters, digits, `_` and `-`, starting with a letter or `_` "
            "(at most 100 characters)"
        )
        errors.append(DefinitionError("invalid", "id", message, index=index))
        step_id = f"#{index}"  # still checked below, under its position
        id_is_valid = False
    else:
        id_is_valid = True

    def fail(field_name: str, message: str, code: str = "invalid") -> None:
        errors.append(
            DefinitionError(
                code, field_name, message, step=step_id if id_is_valid else "", index=index
            )  # fmt: skip
        )

    if len(raw) > len(STEP_FIELDS) or not STEP_FIELDS.issuperset(raw):
        for key in raw:
            if key not in STEP_FIELDS:
                fail(str(key), _unknown(key, STEP_FIELDS), "unknown_field")
    skill = raw.get("skill")
    if not isinstance(skill, str) or not SLUG.match(skill):
        fail("skill", "required: a skill's slug")
        skill = ""
    version = raw.get("version")
    if version is not None and (not isinstance(version, str) or not version):
        fail("version", 'a version of the skill, as a string (e.g. "1.0.0")')
        version = None
    params = raw.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        fail("params", "must be a mapping (JSON object)")
        params = {}
    depends_on = raw.get("depends_on")
    if depends_on is None:
        depends_on = []
    elif isinstance(depends_on, str):
        depends_on = [depends_on]
    elif not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        fail("depends_on", "a list of step ids")
        depends_on = []
    timeout = raw.get("timeout_seconds")
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        fail("timeout_seconds", "a number of seconds above 0")
        timeout = None
    retries = raw.get("retries", 0)
    if type(retries) is not int or not 0 <= retries <= MAX_RETRIES:
        fail("retries", f"a whole number from 0 to {MAX_RETRIES}")
        retries = 0
    delay = raw.get("retry_delay_seconds", DEFAULT_RETRY_DELAY)
    if not _is_number(delay) or delay < 0:
        fail("retry_delay_seconds", "a number of seconds, 0 or more")
        delay = DEFAULT_RETRY_DELAY
    backoff = raw.get("retry_backoff", DEFAULT_RETRY_BACKOFF)
    if not _is_number(backoff) or backoff < 1:
        fail("retry_backoff", "a factor of 1 or more (1: the same delay before every retry)")
        backoff = DEFAULT_RETRY_BACKOFF

    step = StepSpec(
        id=step_id,
        index=index,
        skill=skill,
        version=version,
        params=params,
        depends_on=depends_on,
        timeout_seconds=float(timeout) if timeout is not None else None,
        retries=retries,
        retry_delay_seconds=float(delay),
        retry_backoff=float(backoff),
        when=None,
    )
    cache = cache_parse(raw.get("cache", False))
    if isinstance(cache, str):
        fail("cache", cache)
    else:
        step.cache, step.cache_ttl_seconds = cache
    _params_read(step, fail)
    when = raw.get("when")
    if when is not None:
        _when_read(step, when, fail)
    return step if id_is_valid else None


def _is_number(value: Any) -> bool:
    """A finite number; an int too large for a float is not one (it would overflow later)."""
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def ref_parse(path: Any) -> tuple[str, str] | str:
    """(kind, target) of a reference path, or the reason it is not one."""
    if not isinstance(path, str):
        return "a reference is a string such as `inputs.url` or `steps.fetch.output.rows`"
    parts = path.split(".")
    if parts[0] == "inputs" and len(parts) >= 2 and parts[1]:
        return "inputs", parts[1]
    if parts[0] == "steps" and len(parts) >= 3 and parts[1] and parts[2] == "output":
        return "steps", parts[1]
    return (
        f"{path!r} is not a reference: use `inputs.<name>[.<key>…]` or `steps.<id>.output[.<key>…]`"
    )


def _params_read(step: StepSpec, report) -> None:
    """Find every reference in the params, and anything in them that is not JSON."""

    def fail(where: str, message: str, code: str = "invalid") -> None:
        if code == "not_json":
            step.is_json = False
        report(where, message, code)

    stack: list[tuple[Any, str, str | None]] = []
    for key, value in step.params.items():
        if type(key) is not str:
            fail("params", f"key {key!r} is not a string", "not_json")
            continue
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind is float and math.isfinite(value):
            continue
        stack.append((value, f"params.{key}", key))
    while stack:
        value, where, top_key = stack.pop()
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind is float:
            if not math.isfinite(value):
                fail(where, f"{value} is not a JSON number", "not_json")
            continue
        if kind is dict:
            if REF in value:
                _ref_add(step, value, where, top_key, fail)
                continue
            if LITERAL in value and len(value) == 1:
                problem = json_problem(value[LITERAL])
                if problem:
                    fail(where, f"not JSON: {problem}", "not_json")
                continue
            for child_key, child in value.items():
                if not isinstance(child_key, str):
                    fail(where, f"key {child_key!r} is not a string", "not_json")
                    continue
                stack.append((child, f"{where}.{child_key}", None))
        elif kind is list:
            stack.extend((child, f"{where}.{i}", None) for i, child in enumerate(value))
        else:
            fail(where, f"{kind.__name__} is not a JSON value", "not_json")


def _ref_add(step: StepSpec, value: dict, where: str, top_key: str | None, fail) -> None:
    step.masks.append((where, top_key))
    if top_key is None:
        step.has_nested_refs = True
    if len(value) != 1:
        message = 'a reference holds `$ref` alone (wrap other data in {"$literal": …})'
        fail(where, message, "invalid_ref")
        return
    parsed = ref_parse(value[REF])
    if isinstance(parsed, str):
        fail(where, parsed, "invalid_ref")
        return
    kind, target = parsed
    step.refs.append(Ref(where, value[REF], kind, target, top_key))


def _when_read(step: StepSpec, when: Any, fail) -> None:
    if not isinstance(when, dict) or REF not in when or not set(when) <= {REF, "equals"}:
        fail("when", 'a condition: {"$ref": "<reference>"} or {"$ref": …, "equals": <value>}')
        return
    parsed = ref_parse(when[REF])
    if isinstance(parsed, str):
        fail("when", parsed, "invalid_ref")
        return
    if "equals" in when:
        problem = json_problem(when["equals"])
        if problem:
            fail("when.equals", f"not JSON: {problem}", "not_json")
            return
    kind, target = parsed
    step.refs.append(Ref("when", when[REF], kind, target, None))
    step.when = dict(when)
