"""Writes: save a definition as a workflow's new version (or nothing, when it is unchanged),
and delete a workflow. Each runs in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from workflows.errors import WorkflowSlugTaken
from workflows.models import Workflow, WorkflowVersion
from workflows.validation import ValidatedWorkflow, definition_validate


class Change:
    CREATED = "created"  # a new workflow
    NEW_VERSION = "new_version"
    RESTORED = "restored"  # an earlier version made current again
    UNCHANGED = "unchanged"  # nothing written


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    workflow: Workflow
    version: WorkflowVersion
    change: str

    @property
    def is_written(self) -> bool:
        return self.change != Change.UNCHANGED


def workflow_save(
    *,
    definition: Any,
    actor: AbstractBaseUser | None = None,
    create_only: bool = False,
    slug: str | None = None,
    source_path: str = "",
) -> SaveOutcome:
    """Validate `definition` and keep it: a new workflow, a new version of its workflow, or
    nothing when its content hash is the current version's. `create_only` refuses a slug that
    exists (WorkflowSlugTaken, 409); `slug` refuses a definition naming another workflow.
    Raises DefinitionInvalid listing every error; nothing is written then."""
    validated = definition_validate(definition=definition)
    if slug is not None and validated.definition.slug != slug:
        raise WorkflowSlugTaken(
            f"the definition names workflow {validated.definition.slug!r}, not {slug!r}",
            field="slug",
        )
    try:
        with transaction.atomic():
            return validated_save(
                validated=validated, actor=actor, create_only=create_only, source_path=source_path
            )
    except IntegrityError:
        # Another request created the same slug between our look-up and our insert.
        raise WorkflowSlugTaken(
            f"a workflow {validated.definition.slug!r} exists", field="slug"
        ) from None


def validated_save(
    *,
    validated: ValidatedWorkflow,
    actor: AbstractBaseUser | None,
    create_only: bool = False,
    source_path: str = "",
) -> SaveOutcome:
    """Keep a validated definition (inside the caller's transaction)."""
    definition = validated.definition
    normalized = definition.as_dict()
    content_hash = definition.content_hash()
    workflow = Workflow.objects.select_for_update().filter(slug=definition.slug).first()
    if workflow is not None and create_only:
        raise WorkflowSlugTaken(
            f"a workflow {definition.slug!r} exists ({workflow.name!r}); "
            f"change it with PUT /api/workflows/{definition.slug}, or choose another name "
            "(or give a `slug`)",
            field="slug",
        )
    if workflow is None:
        workflow = Workflow.objects.create(
            name=definition.name,
            slug=definition.slug,
            description=definition.description,
            source_path=source_path,
        )
        version = _version_create(workflow, definition.version, content_hash, normalized, actor)
        workflow.current_version = version
        workflow.save(update_fields=["current_version", "updated_at"])
        return SaveOutcome(workflow, version, Change.CREATED)

    existing = workflow.versions.filter(content_hash=content_hash).first()
    if existing is not None and existing.pk == workflow.current_version_id:
        return SaveOutcome(workflow, existing, Change.UNCHANGED)
    change = Change.RESTORED
    if existing is None:
        existing = _version_create(workflow, definition.version, content_hash, normalized, actor)
        change = Change.NEW_VERSION
    workflow.current_version = existing
    workflow.name = definition.name
    workflow.description = definition.description
    if source_path:
        workflow.source_path = source_path
    workflow.save(
        update_fields=["current_version", "name", "description", "source_path", "updated_at"]
    )
    return SaveOutcome(workflow, existing, change)


def _version_create(
    workflow: Workflow,
    label: str,
    content_hash: str,
    normalized: dict[str, Any],
    actor: AbstractBaseUser | None,
) -> WorkflowVersion:
    # Version labels are unique per workflow: a changed definition that kept its label is
    # told apart by its hash, as the skills watcher does with an edited file.
    if workflow.versions.filter(version=label).exists():
        label = f"{label}+{content_hash[:8]}"
    return WorkflowVersion.objects.create(
        workflow=workflow,
        version=label,
        content_hash=content_hash,
        definition=normalized,
        inputs_schema=normalized["inputs"],
        step_count=len(normalized["steps"]),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


def workflow_delete(*, workflow: Workflow) -> None:
    """Delete a workflow and its versions."""
    with transaction.atomic():
        Workflow.objects.filter(pk=workflow.pk).update(current_version=None)
        workflow.delete()
