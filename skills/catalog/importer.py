"""Importing skill files into the catalog: everything is validated first, then written at once.

`skills_import` is the one function behind `manage.py skills import`, `POST /api/skills/import`,
the admin's import page and the file watcher. It parses every file (whose dependencies must pass
the requirement policy, `skills.policy`), checks them against each other and against the
catalog, and only when nothing is wrong writes skills, versions and history in one transaction
with a fixed number of queries, whatever the number of files.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from perf.recording import measure_performance
from skills.catalog.announcements import catalog_changed
from skills.catalog.manifest import (
    ManifestInvalid,
    SkillFileError,
    SkillManifest,
    is_skill_filename,
    manifest_parse,
)
from skills.models import HistoryAction, Skill, SkillHistory, SkillStatus, SkillVersion
from skills.operations import SKILL_IMPORT
from skills.policy import policy_current


@dataclass(frozen=True)
class SkillSource:
    """One skill file to import, from disk, an upload or a bundle."""

    display_name: str
    filename: str
    data: bytes
    path: Path | None = None

    @classmethod
    def from_path(cls, path: Path) -> "SkillSource":
        return cls(str(path), path.name, path.read_bytes(), path.resolve())


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # The skill rows found or written (existing ones first), for callers that go on to change
    # them without reading them again.
    skills: list[Skill] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> list[str]:
        return self.created + self.updated

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


class ImportRefused(Exception):
    """Nothing was written; `errors` lists everything wrong with the import."""

    def __init__(self, errors: list[SkillFileError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s): " + "; ".join(str(e) for e in errors[:5]))


@dataclass
class _Change:
    manifest: SkillManifest
    source: SkillSource
    skill: Skill | None
    version_label: str
    reuse_version: SkillVersion | None = None


def sources_from_paths(paths: Iterable[Path]) -> tuple[list[SkillSource], list[SkillFileError]]:
    """Collect skill files from files and folders.

    A file named directly, or sitting at the top of a named folder, must be a skill. In a
    subfolder (a folder-form skill with its data files), only files with a `/// script` block
    count, and there must be exactly one.
    """
    sources: list[SkillSource] = []
    errors: list[SkillFileError] = []
    for path in paths:
        if path.is_dir():
            _collect_folder(path, sources, errors)
        elif path.is_file():
            sources.append(SkillSource.from_path(path))
        else:
            errors.append(SkillFileError(str(path), 0, "path", "no such file or folder"))
    return sources, errors


def _collect_folder(root: Path, sources: list[SkillSource], errors: list[SkillFileError]) -> None:
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "_")) or entry.is_symlink():
            continue
        if entry.is_file() and is_skill_filename(entry):
            sources.append(SkillSource.from_path(entry))
        elif entry.is_dir() and entry.name not in {"node_modules", "__pycache__"}:
            entries = sorted(p for p in entry.rglob("*") if p.is_file() and is_skill_filename(p))
            found = [p for p in entries if b"/// script" in p.read_bytes()[:65536]]
            if len(found) > 1:
                errors.append(
                    SkillFileError(str(entry), 0, "folder", "holds more than one skill file")
                )
            sources.extend(SkillSource.from_path(p) for p in found[:1])


def skills_import(
    *,
    sources: list[SkillSource],
    actor: AbstractBaseUser | None = None,
    approve: bool = False,
    edits_make_versions: bool = False,
    errors: list[SkillFileError] | None = None,
) -> ImportReport:
    """Validate every source, then write them all in one transaction, or nothing.

    With `edits_make_versions` (the file watcher), a file whose content changed but whose
    declared version did not becomes a local version `1.0.0+edit.<hash>`; elsewhere that is
    refused, because a published version never changes.
    """
    with measure_performance(SKILL_IMPORT, files=len(sources)):
        manifests, found = _parse_all(sources)
        found = list(errors or []) + found
        found += _duplicate_errors(manifests)
        if found:
            raise ImportRefused(found)
        # No savepoint inside a caller's transaction (two round trips): a refusal leaves the
        # block normally, having written nothing, and is raised after it.
        with transaction.atomic(savepoint=False):
            changes, report, conflicts = _plan(manifests, edits_make_versions)
            if not conflicts:
                _apply(changes, report, actor=actor, approve=approve)
                if approve:
                    _approve_unchanged(report.unchanged, actor)
        if conflicts:
            raise ImportRefused(conflicts)
        return report


def _parse_all(
    sources: list[SkillSource],
) -> tuple[list[tuple[SkillManifest, SkillSource]], list[SkillFileError]]:
    manifests, errors = [], []
    policy = policy_current()
    for source in sources:
        try:
            manifest = manifest_parse(
                source.data,
                filename=source.filename,
                display_name=source.display_name,
                policy=policy,
            )
        except ManifestInvalid as invalid:
            errors.extend(invalid.errors)
            continue
        manifests.append((manifest, source))
    return manifests, errors


def _duplicate_errors(manifests: list[tuple[SkillManifest, SkillSource]]) -> list[SkillFileError]:
    first_seen: dict[str, str] = {}
    errors = []
    for manifest, source in manifests:
        if manifest.name in first_seen:
            errors.append(
                SkillFileError(
                    source.display_name,
                    0,
                    "tool.atom.name",
                    f"{manifest.name!r} is also the name of {first_seen[manifest.name]}",
                )
            )
        else:
            first_seen[manifest.name] = source.display_name
    return errors


def _plan(
    manifests: list[tuple[SkillManifest, SkillSource]], edits_make_versions: bool
) -> tuple[list[_Change], ImportReport, list[SkillFileError]]:
    """Compare the files with the catalog (two queries) and decide what each one becomes."""
    slugs = [manifest.name for manifest, _ in manifests]
    skills = {
        skill.slug: skill
        for skill in Skill.objects.select_for_update(of=("self",))
        .filter(slug__in=slugs)
        .select_related("current_version")
    }
    wanted = {
        (skills[manifest.name].pk, label)
        for manifest, _ in manifests
        if manifest.name in skills
        for label in (manifest.version, _edit_label(manifest))
    }
    # Two IN lists select a superset of the wanted pairs in one flat query (an OR per pair
    # overflows SQLite's expression depth at about a thousand files).
    candidates = SkillVersion.objects.filter(
        skill_id__in={pk for pk, _ in wanted}, version__in={label for _, label in wanted}
    ).defer("source")
    versions = {(v.skill_id, v.version): v for v in candidates if (v.skill_id, v.version) in wanted}

    changes, report, conflicts = [], ImportReport(), []
    for manifest, source in manifests:
        skill = skills.get(manifest.name)
        if skill is None:
            changes.append(_Change(manifest, source, None, manifest.version))
            report.created.append(manifest.name)
            continue
        report.skills.append(skill)
        if skill.content_hash == manifest.content_hash:
            report.unchanged.append(manifest.name)
            continue
        change = _change_for_existing(manifest, source, skill, versions, edits_make_versions)
        if isinstance(change, SkillFileError):
            conflicts.append(change)
        else:
            changes.append(change)
            report.updated.append(manifest.name)
    return changes, report, conflicts


def _change_for_existing(
    manifest: SkillManifest,
    source: SkillSource,
    skill: Skill,
    versions: dict[tuple[int, str], SkillVersion],
    edits_make_versions: bool,
) -> "_Change | SkillFileError":
    for label in (manifest.version, _edit_label(manifest)):
        existing = versions.get((skill.pk, label))
        if existing is not None and existing.content_hash == manifest.content_hash:
            return _Change(manifest, source, skill, label, reuse_version=existing)
    declared = versions.get((skill.pk, manifest.version))
    if declared is None:
        return _Change(manifest, source, skill, manifest.version)
    if edits_make_versions:
        return _Change(manifest, source, skill, _edit_label(manifest))
    return SkillFileError(
        source.display_name,
        0,
        "tool.atom.version",
        f"version {manifest.version} of {manifest.name!r} already exists with other content; "
        "versions are immutable, so give the changed file a new version",
    )


def _edit_label(manifest: SkillManifest) -> str:
    base = manifest.version.split("+", 1)[0]
    return f"{base}+edit.{manifest.content_hash[:10]}"


SKILL_UPDATE_FIELDS = [
    "current_version",
    "content_hash",
    "category",
    "type",
    "language",
    "description",
    "tags",
    "source_path",
    "last_error",
    "last_error_at",
    "status",
    "approved_by",
    "approved_at",
    "updated_at",
]


def _apply(
    changes: list[_Change],
    report: ImportReport,
    *,
    actor: AbstractBaseUser | None,
    approve: bool,
) -> None:
    """Write the planned changes with a fixed number of queries."""
    if not changes:
        return
    now = timezone.now()
    created = [change for change in changes if change.skill is None]
    updated = [change for change in changes if change.skill is not None]
    for change in created:
        change.skill = _skill_fields(
            Skill(slug=change.manifest.name), change.manifest, change.source
        )
        if approve:
            change.skill.status = SkillStatus.APPROVED
            change.skill.approved_by, change.skill.approved_at = actor, now
    Skill.objects.bulk_create([change.skill for change in created])
    report.skills.extend(change.skill for change in created)

    new_versions = [_version_for(change) for change in changes if change.reuse_version is None]
    SkillVersion.objects.bulk_create(new_versions)
    versions_by_skill = {version.skill_id: version for version in new_versions}
    for change in changes:
        change.skill.current_version = change.reuse_version or versions_by_skill[change.skill.pk]

    if created:
        # A new skill has exactly one version: one UPDATE with a subquery, instead of a CASE
        # per row, which costs seconds for a thousand skills.
        Skill.objects.filter(pk__in=[change.skill.pk for change in created]).update(
            current_version=Subquery(
                SkillVersion.objects.filter(skill=OuterRef("pk")).values("pk")[:1]
            )
        )
    for change in updated:
        _skill_fields(change.skill, change.manifest, change.source)
        change.skill.updated_at = now
        if approve and change.skill.status != SkillStatus.APPROVED:
            change.skill.status = SkillStatus.APPROVED
            change.skill.approved_by, change.skill.approved_at = actor, now
    if len(updated) == 1:
        # One plain UPDATE: bulk_update's CASE per field is costly to build for a single row.
        skill = updated[0].skill
        Skill.objects.filter(pk=skill.pk).update(
            **{name: getattr(skill, name) for name in SKILL_UPDATE_FIELDS}
        )
    elif updated:
        Skill.objects.bulk_update([change.skill for change in updated], SKILL_UPDATE_FIELDS)

    SkillHistory.objects.bulk_create(_history_for(created, updated, actor=actor, approve=approve))
    catalog_changed(
        "skills.versions",
        [
            {
                "slug": c.skill.slug,
                "version": c.version_label,
                "content_hash": c.manifest.content_hash,
            }
            for c in changes
        ],
    )


def _history_for(
    created: list[_Change], updated: list[_Change], *, actor, approve: bool
) -> list[SkillHistory]:
    history = []
    for action, changes in ((HistoryAction.CREATED, created), (HistoryAction.UPDATED, updated)):
        for change in changes:
            version = change.skill.current_version
            history.append(
                SkillHistory(
                    skill=change.skill,
                    version=version,
                    actor=actor,
                    action=action,
                    note=_history_note(change),
                )
            )
            if approve and action == HistoryAction.CREATED:
                history.append(
                    SkillHistory(
                        skill=change.skill,
                        version=version,
                        actor=actor,
                        action=HistoryAction.APPROVED,
                    )
                )
    return history


def _skill_fields(skill: Skill, manifest: SkillManifest, source: SkillSource) -> Skill:
    skill.category = manifest.category
    skill.type = manifest.type
    skill.language = manifest.language
    skill.description = manifest.description
    skill.tags = manifest.tags
    skill.content_hash = manifest.content_hash
    skill.source_path = str(source.path) if source.path else ""
    skill.last_error = ""
    skill.last_error_at = None
    return skill


def _version_for(change: _Change) -> SkillVersion:
    manifest = change.manifest
    return SkillVersion(
        skill=change.skill,
        version=change.version_label,
        content_hash=manifest.content_hash,
        filename=manifest.filename,
        source=manifest.source,
        requirements=manifest.dependencies,
        requires_python=manifest.requires_python,
        inputs_schema=manifest.inputs,
        entrypoint=manifest.entrypoint,
        timeout=manifest.timeout,
        metadata=manifest.metadata(),
    )


def _history_note(change: _Change) -> str:
    where = change.source.display_name
    if change.reuse_version is not None:
        return f"back to version {change.version_label} from {where}"
    return f"version {change.version_label} from {where}"


def _approve_unchanged(slugs: list[str], actor: AbstractBaseUser | None) -> None:
    """`--approve` also approves skills that were already imported as drafts."""
    if not slugs:
        return
    drafts = list(Skill.objects.filter(slug__in=slugs, status=SkillStatus.DRAFT))
    if not drafts:
        return
    now = timezone.now()
    Skill.objects.filter(pk__in=[s.pk for s in drafts], status=SkillStatus.DRAFT).update(
        status=SkillStatus.APPROVED, approved_by=actor, approved_at=now, updated_at=now
    )
    SkillHistory.objects.bulk_create(
        SkillHistory(
            skill=s, version_id=s.current_version_id, actor=actor, action=HistoryAction.APPROVED
        )
        for s in drafts
    )
    catalog_changed("skills.approved", [{"slug": s.slug} for s in drafts])
