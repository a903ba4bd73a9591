"""Reading a skill file's metadata without running its code.

The metadata is a PEP 723 `/// script` block of TOML in comments at the top of the file; Atom's
fields live in its `[tool.atom]` table (see docs/skill-format.md). Python code is checked with
`ast`, Node code with a scan for the exported entrypoint; nothing is imported or executed.
"""

import ast
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from skills.models import SkillLanguage, SkillType
from skills.policy import Policy, PolicyViolation, policy_check, policy_current
from skills.requirements import RequirementError, requirement_parse

SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SUFFIX_LANGUAGES = {
    ".py": SkillLanguage.PYTHON,
    ".js": SkillLanguage.NODE,
    ".mjs": SkillLanguage.NODE,
}
COMMENT_PREFIXES = {SkillLanguage.PYTHON: "#", SkillLanguage.NODE: "//"}
BLOCK_START = re.compile(r"^(?:#|//) /// script\s*$")
BLOCK_END = re.compile(r"^(?:#|//) ///\s*$")
# `module.exports = { … }` and `export { … }`, up to the next brace. Stopping at either brace
# (possessively) keeps the scan linear: `[^}]*` rescanned to the end of the file from every
# `module.exports = {` of a file without `}` (540 KB took 115 s).
NODE_EXPORT_LISTS = re.compile(r"(?:module\.exports\s*=\s*|export\s*)\{([^{}]*+)")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TOP_LEVEL_FIELDS = {"requires-python", "dependencies", "tool"}
ATOM_FIELDS = {
    "name",
    "version",
    "category",
    "type",
    "description",
    "tags",
    "entrypoint",
    "timeout",
    "memory_mb",
    "network",
    "inputs",
    "examples",
}
MAX_DESCRIPTION = 2000
# Tables and arrays inside the block nest at most this deep: past it, jsonschema's checks and
# the JSON that stores a version recurse into a RecursionError.
MAX_NESTING = 32
# Unknown fields reported one by one before the rest are counted (each report searches the
# block for its line).
MAX_UNKNOWN_REPORTED = 10
MAX_TAGS = 20
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class SkillFileError:
    """One thing wrong with one skill file, pointing at the line and field at fault; `rule`
    names the policy rule when the site's policy (not the file's form) refused it."""

    file: str
    line: int
    field: str
    message: str
    rule: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "rule": self.rule,
        }


class ManifestInvalid(Exception):
    def __init__(self, errors: list[SkillFileError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class SkillManifest:
    """Everything Atom knows about a skill file after parsing it."""

    name: str
    version: str
    category: str
    type: str
    description: str
    language: str
    filename: str
    source: str
    content_hash: str
    tags: list[str] = field(default_factory=list)
    entrypoint: str = "run"
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int | None = None
    network: bool = False
    requires_python: str = ""
    dependencies: list[str] = field(default_factory=list)
    inputs: dict[str, Any] | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """The fields kept on a SkillVersion beside its own columns."""
        return {
            "category": self.category,
            "type": self.type,
            "description": self.description,
            "tags": self.tags,
            "memory_mb": self.memory_mb,
            "network": self.network,
            "examples": self.examples,
            "language": self.language,
        }


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_skill_filename(path: Path) -> bool:
    return path.suffix in SUFFIX_LANGUAGES and not path.name.startswith(".")


def manifest_parse(
    data: bytes, *, filename: str, display_name: str | None = None, policy: Policy | None = None
) -> SkillManifest:
    """Parse a skill file's bytes; raise ManifestInvalid listing every error found.

    The dependencies must also pass the site's requirement policy (`policy`, by default the
    one the settings describe now): a skill the installer would refuse is not imported.
    """
    name = display_name or filename
    language = SUFFIX_LANGUAGES.get(Path(filename).suffix)
    if language is None:
        raise ManifestInvalid(
            [SkillFileError(name, 0, "file", "a skill file must end in .py, .js or .mjs")]
        )
    limit = settings.ATOM_SKILL_MAX_BYTES
    if len(data) > limit:
        raise ManifestInvalid([_too_large(name, len(data), limit)])
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ManifestInvalid(
            [SkillFileError(name, line, "file", f"is not UTF-8 (byte {error.start})")]
        ) from None
    parsed = _ParsedBlock.from_source(source, language=language, file=name)
    return parsed.manifest(filename=filename, data=data, policy=policy or policy_current())


def _too_large(name: str, size: int, limit: int) -> SkillFileError:
    return SkillFileError(
        name, 0, "file", f"is {size} bytes, over the limit of {limit} bytes (ATOM_SKILL_MAX_BYTES)"
    )


@dataclass
class _ParsedBlock:
    """The metadata block of one file, with line numbers kept for error messages."""

    file: str
    language: str
    source: str
    table: dict[str, Any]
    first_line: int
    lines: list[str]
    errors: list[SkillFileError] = field(default_factory=list)

    @classmethod
    def from_source(cls, source: str, *, language: str, file: str) -> "_ParsedBlock":
        lines = source.splitlines()
        start = next((i for i, line in enumerate(lines) if BLOCK_START.match(line)), None)
        if start is None:
            raise ManifestInvalid(
                [SkillFileError(file, 1, "script", "no `/// script` metadata block")]
            )
        end = next((i for i in range(start + 1, len(lines)) if BLOCK_END.match(lines[i])), None)
        if end is None:
            raise ManifestInvalid(
                [SkillFileError(file, start + 1, "script", "the `/// script` block is not closed")]
            )
        prefix = COMMENT_PREFIXES[language]
        body = []
        for number in range(start + 1, end):
            line = lines[number]
            if line == prefix:
                body.append("")
            elif line.startswith(prefix + " "):
                body.append(line[len(prefix) + 1 :])
            else:
                raise ManifestInvalid(
                    [
                        SkillFileError(
                            file, number + 1, "script", f"a block line must start with {prefix!r}"
                        )
                    ]
                )
        try:
            table = tomllib.loads("\n".join(body))
        except tomllib.TOMLDecodeError as error:
            # Python 3.12's TOMLDecodeError only says "(at line N, column M)" in its text.
            where = re.search(r"\(at line (\d+), column \d+\)$", str(error))
            line = start + 1 + (int(where.group(1)) if where else 0)
            message = str(error)[: where.start()].strip() if where else str(error)
            raise ManifestInvalid(
                [SkillFileError(file, line, "script", f"TOML does not parse: {message}")]
            ) from None
        except ValueError as error:  # an integer past 4,300 digits
            raise ManifestInvalid(
                [SkillFileError(file, start + 1, "script", f"TOML does not parse: {error}")]
            ) from None
        except RecursionError:  # tomllib recurses per nested array or inline table
            raise ManifestInvalid(
                [SkillFileError(file, start + 1, "script", "TOML nests too deeply to parse")]
            ) from None
        too_deep = _nesting_too_deep(table)
        if too_deep:
            raise ManifestInvalid(
                [
                    SkillFileError(
                        file, start + 1, too_deep, f"nests deeper than {MAX_NESTING} levels"
                    )
                ]
            )
        return cls(file, language, source, table, start + 1, body)

    def manifest(self, *, filename: str, data: bytes, policy: Policy) -> SkillManifest:
        atom = self._atom_table()
        values = {
            "name": self._slug(atom, "name"),
            "version": self._version(atom),
            "category": self._slug(atom, "category"),
            "type": self._type(atom),
            "description": self._description(atom),
            "tags": self._tags(atom),
            "entrypoint": self._entrypoint(atom),
            "timeout": self._timeout(atom),
            "memory_mb": self._memory(atom),
            "network": self._network(atom),
            "requires_python": self._requires_python(),
            "dependencies": self._dependencies(policy),
            "inputs": self._inputs(atom),
            "examples": self._examples(atom),
        }
        unknown_fields = [
            (_key_name(unknown), unknown) for unknown in sorted(set(self.table) - TOP_LEVEL_FIELDS)
        ] + [
            (f"tool.atom.{_key_name(unknown)}", unknown)
            for unknown in sorted(set(atom) - ATOM_FIELDS)
        ]
        for field_name, key in unknown_fields[:MAX_UNKNOWN_REPORTED]:
            self._error(field_name, "is not a known field", key=key)
        if len(unknown_fields) > MAX_UNKNOWN_REPORTED:
            more = len(unknown_fields) - MAX_UNKNOWN_REPORTED
            self._error("script", f"and {more} more unknown fields")
        if self.errors:
            raise ManifestInvalid(self.errors)
        return SkillManifest(
            language=self.language,
            filename=filename,
            source=self.source,
            content_hash=content_hash(data),
            **values,
        )

    # Errors ------------------------------------------------------------------------------

    def _error(self, field_name: str, message: str, *, key: str | None = None) -> None:
        self.errors.append(SkillFileError(self.file, self._line_of(key), field_name, message))

    def _line_of(self, key: str | None) -> int:
        """The file line where `key = …` (or `[table.key]`) is written, else the block start."""
        if key:
            # `[^\[\]]`, not `[^\]]`: a line of `[[[[…` would let `\[+` and the class share
            # the brackets and backtrack quadratically.
            pattern = re.compile(rf"^\s*(?:{re.escape(key)}\s*=|\[+[^\[\]]*\b{re.escape(key)}\]+)")
            for offset, line in enumerate(self.lines):
                if pattern.match(line):
                    return self.first_line + 1 + offset
        return self.first_line

    # Fields ------------------------------------------------------------------------------

    def _atom_table(self) -> dict[str, Any]:
        tool = self.table.get("tool", {})
        atom = tool.get("atom") if isinstance(tool, dict) else None
        if not isinstance(atom, dict):
            self._error("tool.atom", "the [tool.atom] table is missing")
            raise ManifestInvalid(self.errors)
        return atom

    def _required_string(self, atom: dict, key: str) -> str:
        value = atom.get(key)
        if value is None:
            self._error(f"tool.atom.{key}", "is required", key="atom")
            return ""
        if not isinstance(value, str) or not value.strip():
            self._error(f"tool.atom.{key}", "must be a non-empty string", key=key)
            return ""
        return value.strip()

    def _slug(self, atom: dict, key: str) -> str:
        value = self._required_string(atom, key)
        if value and (not SLUG.fullmatch(value) or not 2 <= len(value) <= 64):
            self._error(
                f"tool.atom.{key}",
                f"{value!r} is not a slug (lowercase letters, digits and single hyphens, "
                "2 to 64 characters, starting with a letter)",
                key=key,
            )
        return value

    def _version(self, atom: dict) -> str:
        value = self._required_string(atom, "version")
        if not value:
            return value
        try:
            return str(Version(value))
        except ValueError:  # InvalidVersion, or a number past 4,300 digits
            self._error("tool.atom.version", f"{value!r} is not a PEP 440 version", key="version")
            return value

    def _type(self, atom: dict) -> str:
        value = self._required_string(atom, "type")
        if value and value not in SkillType.values:
            allowed = ", ".join(SkillType.values)
            self._error("tool.atom.type", f"{value!r} is not one of {allowed}", key="type")
        return value

    def _description(self, atom: dict) -> str:
        value = self._required_string(atom, "description")
        if len(value) > MAX_DESCRIPTION:
            self._error(
                "tool.atom.description",
                f"is {len(value)} characters, over {MAX_DESCRIPTION}",
                key="description",
            )
        return value

    def _tags(self, atom: dict) -> list[str]:
        tags = atom.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            self._error("tool.atom.tags", "must be a list of strings", key="tags")
            return []
        bad = [tag for tag in tags if not SLUG.fullmatch(tag)]
        if bad:
            self._error("tool.atom.tags", f"{bad[0]!r} is not a slug", key="tags")
        if len(tags) > MAX_TAGS:
            self._error("tool.atom.tags", f"has {len(tags)} tags, over {MAX_TAGS}", key="tags")
        return list(dict.fromkeys(tags))

    def _entrypoint(self, atom: dict) -> str:
        value = atom.get("entrypoint", "run")
        if not isinstance(value, str) or not value.isidentifier():
            self._error("tool.atom.entrypoint", f"{value!r} is not a name", key="entrypoint")
            return "run"
        if self.language == SkillLanguage.PYTHON:
            self._python_entrypoint_check(value)
        else:
            self._node_entrypoint_check(value)
        return value

    def _python_entrypoint_check(self, name: str) -> None:
        try:
            tree = ast.parse(self.source, filename=self.file)
        except SyntaxError as error:
            self.errors.append(
                SkillFileError(self.file, error.lineno or 0, "source", f"syntax error: {error.msg}")
            )
            return
        except (MemoryError, RecursionError):
            # CPython's answer to code nested past its parser's stack ("Parser stack
            # overflowed", or a RecursionError building the tree): the file is refused.
            self.errors.append(
                SkillFileError(self.file, 0, "source", "is nested too deeply to parse")
            )
            return
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if name not in defined:
            self._error(
                "tool.atom.entrypoint",
                f"the file defines no top-level function {name!r}",
                key="entrypoint",
            )

    def _node_entrypoint_check(self, name: str) -> None:
        exported = re.compile(
            rf"(?:export\s+(?:async\s+)?function\s+{name}\b"
            rf"|export\s+(?:const|let|var)\s+{name}\b"
            rf"|exports\.{name}\s*=)"
        )
        listed = re.compile(rf"\b{name}\b")
        if not exported.search(self.source) and not any(
            listed.search(names.group(1)) for names in NODE_EXPORT_LISTS.finditer(self.source)
        ):
            self._error(
                "tool.atom.entrypoint",
                f"the file does not export a function {name!r}",
                key="entrypoint",
            )

    def _timeout(self, atom: dict) -> float:
        value = atom.get("timeout", DEFAULT_TIMEOUT)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0.1 <= value <= 3600  # NaN and infinities too; an int of any size compares
        ):
            self._error(
                "tool.atom.timeout", "must be a number of seconds from 0.1 to 3600", key="timeout"
            )
            return DEFAULT_TIMEOUT
        return float(value)

    def _memory(self, atom: dict) -> int | None:
        value = atom.get("memory_mb")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= 65536:
            self._error(
                "tool.atom.memory_mb", "must be a whole number from 16 to 65536", key="memory_mb"
            )
            return None
        return value

    def _network(self, atom: dict) -> bool:
        value = atom.get("network", False)
        if not isinstance(value, bool):
            self._error("tool.atom.network", "must be true or false", key="network")
            return False
        return value

    def _requires_python(self) -> str:
        value = self.table.get("requires-python", "")
        if not isinstance(value, str):
            self._error("requires-python", "must be a string", key="requires-python")
            return ""
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            self._error(
                "requires-python", f"{value!r} is not a specifier set", key="requires-python"
            )
        return value

    def _dependencies(self, policy: Policy) -> list[str]:
        value = self.table.get("dependencies", [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._error("dependencies", "must be a list of strings", key="dependencies")
            return []
        # The policy also reports what does not parse (rule valid-requirement).
        for violation in policy_check(self.language, value, policy=policy):
            self._policy_error(violation)
        normalized = []
        for text in value:
            try:
                normalized.append(requirement_parse(self.language, text).text)
            except RequirementError:
                continue
        return normalized

    def _policy_error(self, violation: PolicyViolation) -> None:
        message = violation.message
        if f"(rule {violation.rule})" not in message:
            message = f"{message} (rule {violation.rule})"
        self.errors.append(
            SkillFileError(
                self.file, self._line_of("dependencies"), "dependencies", message, violation.rule
            )
        )

    def _inputs(self, atom: dict) -> dict[str, Any] | None:
        schema = atom.get("inputs")
        if schema is None:
            return None
        if not isinstance(schema, dict):
            self._error("tool.atom.inputs", "must be a table (a JSON Schema)", key="inputs")
            return None
        error = _schema_error(schema)
        if error:
            self._error("tool.atom.inputs", error, key="inputs")
        return schema

    def _examples(self, atom: dict) -> list[dict[str, Any]]:
        examples = atom.get("examples", [])
        if not isinstance(examples, list) or not all(isinstance(e, dict) for e in examples):
            self._error("tool.atom.examples", "must be an array of tables", key="examples")
            return []
        for number, example in enumerate(examples, start=1):
            if not isinstance(example.get("input", {}), dict):
                self._error(
                    "tool.atom.examples", f"example {number}: input must be a table", key="examples"
                )
        return examples


def _schema_error(schema: dict[str, Any]) -> str | None:
    """Return why `schema` is not a valid JSON Schema, or None."""
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return f"is not a valid JSON Schema: {error.message}"
    return None


def _nesting_too_deep(table: dict[str, Any]) -> str:
    """The field holding tables or arrays nested past MAX_NESTING, or "" (walked without
    recursion, since the point is a value too deep to recurse into)."""
    pending: list[tuple[Any, int, str]] = [(table, 0, "")]
    while pending:
        value, depth, field_name = pending.pop()
        if depth > MAX_NESTING:
            return field_name
        if isinstance(value, dict):
            children = value.items()
        elif isinstance(value, list):
            children = ((field_name, item) for item in value)
        else:
            continue
        for key, child in children:
            # Name the field as errors do: `tool.atom.inputs`, `dependencies`.
            name = field_name if depth >= 3 or isinstance(value, list) else _joined(field_name, key)
            pending.append((child, depth + 1, name))
    return ""


def _joined(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _key_name(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (`""`, `"a b"`)."""
    return key if BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)
