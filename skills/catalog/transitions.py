"""Changes to skills after import: approval, deprecation, agent mappings, single-skill updates."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from perf.recording import measure_performance
from skills.catalog.announcements import catalog_changed
from skills.catalog.importer import ImportReport, SkillSource, skills_import
from skills.models import Agent, AgentSkill, HistoryAction, Skill, SkillHistory, SkillStatus
from skills.operations import SKILL_UPDATE


class TransitionRefused(Exception):
    """The skill is not in a status that allows the change."""


def _require_staff(actor: AbstractBaseUser | None, what: str) -> None:
    if actor is None or not actor.is_active or not actor.is_staff:
        raise PermissionDenied(f"only staff users may {what} skills")


@transaction.atomic
def skill_approve(*, skill: Skill, actor: AbstractBaseUser, note: str = "") -> Skill:
    _require_staff(actor, "approve")
    now = timezone.now()
    updated = Skill.objects.filter(
        pk=skill.pk, status__in=[SkillStatus.DRAFT, SkillStatus.DEPRECATED]
    ).update(status=SkillStatus.APPROVED, approved_by=actor, approved_at=now, updated_at=now)
    if not updated:
        raise TransitionRefused(f"{skill.slug!r} is already approved")
    SkillHistory.objects.create(
        skill=skill,
        version_id=skill.current_version_id,
        actor=actor,
        action=HistoryAction.APPROVED,
        note=note,
    )
    catalog_changed("skills.approved", [{"slug": skill.slug}])
    skill.refresh_from_db()
    return skill


@transaction.atomic
def skill_deprecate(
    *, skill: Skill, actor: AbstractBaseUser | None, note: str = "", check_staff: bool = True
) -> Skill:
    """Deprecate a skill; the watcher does this (without an actor) when its file is deleted."""
    if check_staff:
        _require_staff(actor, "deprecate")
    now = timezone.now()
    updated = (
        Skill.objects.filter(pk=skill.pk)
        .exclude(status=SkillStatus.DEPRECATED)
        .update(status=SkillStatus.DEPRECATED, updated_at=now)
    )
    if not updated:
        raise TransitionRefused(f"{skill.slug!r} is already deprecated")
    SkillHistory.objects.create(
        skill=skill,
        version_id=skill.current_version_id,
        actor=actor,
        action=HistoryAction.DEPRECATED,
        note=note,
    )
    catalog_changed("skills.deprecated", [{"slug": skill.slug}])
    skill.refresh_from_db()
    return skill


def skills_bulk_transition(
    *, skills: list[Skill], actor: AbstractBaseUser, approve: bool
) -> tuple[int, int]:
    """Approve or deprecate many skills; return (changed, skipped)."""
    changed = skipped = 0
    for skill in skills:
        try:
            if approve:
                skill_approve(skill=skill, actor=actor)
            else:
                skill_deprecate(skill=skill, actor=actor)
            changed += 1
        except TransitionRefused:
            skipped += 1
    return changed, skipped


@transaction.atomic
def agent_mappings_change(
    *,
    agent: Agent,
    add: list[Skill] = (),
    remove: list[Skill] = (),
    actor: AbstractBaseUser | None = None,
) -> None:
    """Map and unmap skills for an agent, with history, in a fixed number of queries."""
    _mappings_change(
        add=[(agent, skill) for skill in add],
        remove=[(agent, skill) for skill in remove],
        actor=actor,
    )


def _mappings_change(
    *,
    add: list[tuple[Agent, Skill]],
    remove: list[tuple[Agent, Skill]],
    actor: AbstractBaseUser | None,
) -> None:
    """Add and remove agent ↔ skill pairs with history: at most four queries for any number.

    Callers fix one side (an agent or a skill), so the IN lists select exactly their pairs.
    """
    add_keys = {(agent.pk, skill.pk) for agent, skill in add}
    remove = [(a, s) for a, s in remove if (a.pk, s.pk) not in add_keys]
    pairs = add + remove
    if not pairs:
        return
    existing = set(
        AgentSkill.objects.filter(
            agent_id__in={agent.pk for agent, _ in pairs},
            skill_id__in={skill.pk for _, skill in pairs},
        ).values_list("agent_id", "skill_id")
    )
    to_add = [(a, s) for a, s in add if (a.pk, s.pk) not in existing]
    to_remove = [(a, s) for a, s in remove if (a.pk, s.pk) in existing]
    if to_add:
        AgentSkill.objects.bulk_create(
            [AgentSkill(agent=a, skill=s) for a, s in to_add], ignore_conflicts=True
        )
    if to_remove:
        AgentSkill.objects.filter(
            agent_id__in={a.pk for a, _ in to_remove}, skill_id__in={s.pk for _, s in to_remove}
        ).delete()
    history = [
        SkillHistory(
            skill=skill,
            version_id=skill.current_version_id,
            actor=actor,
            action=action,
            note=f"agent {agent.slug}",
        )
        for action, changed in ((HistoryAction.MAPPED, to_add), (HistoryAction.UNMAPPED, to_remove))
        for agent, skill in changed
    ]
    if history:
        SkillHistory.objects.bulk_create(history)


@transaction.atomic
def skill_update(
    *,
    source: SkillSource,
    actor: AbstractBaseUser | None = None,
    agents_add: list[Agent] = (),
    agents_remove: list[Agent] = (),
    edits_make_versions: bool = False,
    origin: str = "",
) -> ImportReport:
    """A new version of one skill, its history and its agent mapping changes, all or nothing.

    The number of queries does not grow with the number of agents. `edits_make_versions` is
    the watcher's (see `skills_import`); `origin` names the caller in the timing sample.
    """
    context = {"source": origin} if origin else {}
    with measure_performance(SKILL_UPDATE, skill=source.filename, **context):
        report = skills_import(
            sources=[source], actor=actor, edits_make_versions=edits_make_versions
        )
        [skill] = report.skills
        _mappings_change(
            add=[(agent, skill) for agent in agents_add],
            remove=[(agent, skill) for agent in agents_remove],
            actor=actor,
        )
        return report
