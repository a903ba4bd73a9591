"""Workflow files (YAML or JSON) in a folder, imported like skills: every file read and validated
first, then everything written in one transaction, or nothing.

YAML is read with the safe loader only: a tag that would construct an object (`!!python/…`)
is an error naming its line, never executed. Anchors and aliases are refused too (an alias bomb
would make a small file expand into a huge definition). Each error names the file, the line
where YAML gives one, the step id and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from workflows.errors import DefinitionError, DefinitionInvalid, WorkflowError
from workflows.models import Workflow
from workflows.services import Change, validated_save
from workflows.validation import ValidatedWorkflow, definition_validate

SUFFIXES = (".yaml", ".yml", ".json")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class WorkflowSource:
    name: str  # as shown in errors (a path relative to what was imported)
    text: bytes
    path: str = ""  # kept on the workflow, so a file is recognized when imported again


@dataclass(slots=True)
class Lines:
    """Where things are in a YAML file: the top-level keys, each step and each step's keys."""

    top: dict[str, int] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    step_fields: list[dict[str, int]] = field(default_factory=list)

    def line_of(self, error: DefinitionError) -> int | None:
        if error.index is not None and error.index < len(self.steps):
            head = error.field.split(".", 1)[0]
            return self.step_fields[error.index].get(head, self.steps[error.index])
        return self.top.get(error.field.split(".", 1)[0])


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} new version(s), "
            f"{len(self.unchanged)} unchanged"
        )


class WorkflowImportRefused(WorkflowError):
    status = 422
    code = "import_refused"

    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__(f"nothing imported: {len(errors)} error(s)")
        self.errors = errors


def sources_from_paths(paths: list[Path]) -> tuple[list[WorkflowSource], list[DefinitionError]]:
    """Every workflow file in the given files and folders (folders searched recursively)."""
    sources, errors = [], []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            base = path
        elif path.is_file():
            files, base = [path], path.parent
        else:
            message = "no such file or folder"
            errors.append(DefinitionError("not_found", "path", message, file=str(path)))
            continue
        for file in files:
            name = str(file.relative_to(base))
            size = file.stat().st_size
            if size > settings.ATOM_WORKFLOW_MAX_BYTES:
                limit = settings.ATOM_WORKFLOW_MAX_BYTES
                message = f"{size:,} bytes; at most {limit:,} (ATOM_WORKFLOW_MAX_BYTES)"
                errors.append(DefinitionError("too_large", "file", message, file=name))
                continue
            sources.append(WorkflowSource(name, file.read_bytes(), str(file.resolve())))
    return sources, errors


def definition_load(source: WorkflowSource) -> tuple[Any, Lines]:
    """The mapping in a file and where its parts are; DefinitionInvalid when it cannot be read."""

    def refuse(code: str, field_name: str, message: str, line: int | None = None):
        return DefinitionInvalid(
            [DefinitionError(code, field_name, message, file=source.name, line=line)]
        )

    try:
        text = source.text.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse("not_utf8", "file", f"not UTF-8 text ({error.reason})") from None
    if source.name.endswith(".json"):
        try:
            return json.loads(text), Lines()
        except json.JSONDecodeError as error:
            raise refuse("not_json", "file", f"not JSON: {error.msg}", error.lineno) from None
    try:
        loader = Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _aliases_refuse(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _AliasFound as found:
        message = "YAML anchors and aliases are not accepted"
        raise refuse("yaml_alias", "file", message, found.line) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or str(error)
        if isinstance(error, yaml.constructor.ConstructorError):
            problem = f"{problem} (only plain YAML is read: tags that build objects are refused)"
        raise refuse("invalid_yaml", "file", f"not valid YAML: {problem}", line) from None
    except yaml.YAMLError as error:
        raise refuse("invalid_yaml", "file", f"not valid YAML: {error}") from None
    return data, _lines_of(node)


class _AliasFound(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _aliases_refuse(root: yaml.Node) -> None:
    """A node reached twice is an alias (the composer shares the anchored node)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise _AliasFound(node.start_mark.line + 1)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _lines_of(node: yaml.Node | None) -> Lines:
    lines = Lines()
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        lines.top[key.value] = key.start_mark.line + 1
        if key.value == "steps" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                lines.steps.append(item.start_mark.line + 1)
                fields = {}
                if isinstance(item, yaml.MappingNode):
                    for step_key, _ in item.value:
                        if isinstance(step_key, yaml.ScalarNode):
                            fields[step_key.value] = step_key.start_mark.line + 1
                lines.step_fields.append(fields)
    return lines


def workflows_import(
    *,
    sources: list[WorkflowSource],
    errors: list[DefinitionError] | None = None,
    actor: AbstractBaseUser | None = None,
) -> ImportReport:
    """Validate every file, then save every workflow in one transaction, or refuse them all
    (WorkflowImportRefused listing each error). Unchanged files write nothing."""
    problems = list(errors or [])
    validated: list[tuple[WorkflowSource, ValidatedWorkflow]] = []
    for source in sources:
        lines = None
        try:
            data, lines = definition_load(source)
            result = definition_validate(definition=data)
        except DefinitionInvalid as invalid:
            problems.extend(_located(error, source, lines) for error in invalid.errors)
            continue
        validated.append((source, result))
    problems.extend(_slug_collisions(validated))
    if problems:
        raise WorkflowImportRefused(problems)
    report = ImportReport()
    with transaction.atomic():
        for source, result in validated:
            outcome = validated_save(validated=result, actor=actor, source_path=source.path)
            slug = outcome.workflow.slug
            if outcome.change == Change.CREATED:
                report.created.append(slug)
            elif outcome.change == Change.UNCHANGED:
                report.unchanged.append(slug)
            else:
                report.updated.append(slug)
    return report


def _located(
    error: DefinitionError, source: WorkflowSource, lines: Lines | None
) -> DefinitionError:
    if error.file:
        return error
    line = lines.line_of(error) if lines is not None else None
    return DefinitionError(
        error.code, error.field, error.message, error.step, error.index, source.name, line
    )


def _slug_collisions(
    validated: list[tuple[WorkflowSource, ValidatedWorkflow]],
) -> list[DefinitionError]:
    """Two files naming one workflow, or a file naming a workflow imported from another file."""
    errors = []
    first: dict[str, WorkflowSource] = {}
    for source, result in validated:
        slug = result.definition.slug
        if slug in first:
            message = f"workflow {slug!r} is also defined in {first[slug].name}"
            errors.append(DefinitionError("slug_taken", "slug", message, file=source.name))
        else:
            first[slug] = source
    existing = Workflow.objects.filter(slug__in=list(first)).values_list(
        "slug", "source_path", "name"
    )
    for slug, source_path, name in existing:
        source = first[slug]
        # By file name: moving the whole folder is not a collision.
        if source_path and source.path and Path(source_path).name != Path(source.path).name:
            message = (
                f"workflow {slug!r} ({name!r}) was imported from {source_path}; "
                "rename this one (or give it another `slug`)"
            )
            errors.append(DefinitionError("slug_taken", "slug", message, file=source.name))
    return errors


def workflow_export(*, workflow: Workflow) -> str:
    """The current definition of a workflow as YAML (what `workflows import` reads back)."""
    definition = workflow.current_version.definition if workflow.current_version else {}
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)


def workflows_demo_load(*, actor: AbstractBaseUser | None = None) -> str:
    """Import the demo workflows (ATOM_WORKFLOWS_DIR); a one-line summary for `make up`."""
    folder = Path(settings.ATOM_WORKFLOWS_DIR)
    if not folder.is_dir():
        return f"Demo workflows: {folder} does not exist; nothing imported."
    sources, errors = sources_from_paths([folder])
    try:
        report = workflows_import(sources=sources, errors=errors, actor=actor)
    except WorkflowImportRefused as refused:
        details = "\n  ".join(str(error) for error in refused.errors)
        return f"Demo workflows: nothing imported from {folder}:\n  {details}"
    return f"Demo workflows from {folder}: {report.summary()}."
