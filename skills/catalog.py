"""Changes to skills after import: approval, deprecation, agent mappings, single-skill updates."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from perf.operations import SKILL_UPDATE
from perf.recording import measure_performance
from skills.announcements import catalog_changed
from skills.importer import ImportReport, SkillSource, skills_import
from skills.models import Agent, AgentSkill, HistoryAction, Skill, SkillHistory, SkillStatus


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
    add_ids = {skill.pk for skill in add}
    remove_ids = {skill.pk for skill in remove} - add_ids
    existing = set(
        AgentSkill.objects.filter(agent=agent, skill_id__in=add_ids | remove_ids).values_list(
            "skill_id", flat=True
        )
    )
    to_add = [skill for skill in add if skill.pk not in existing]
    to_remove = [skill for skill in remove if skill.pk in existing and skill.pk in remove_ids]
    AgentSkill.objects.bulk_create(
        [AgentSkill(agent=agent, skill=skill) for skill in to_add], ignore_conflicts=True
    )
    if to_remove:
        AgentSkill.objects.filter(agent=agent, skill__in=to_remove).delete()
    SkillHistory.objects.bulk_create(
        [
            SkillHistory(skill=skill, actor=actor, action=action, note=f"agent {agent.slug}")
            for action, skills in (
                (HistoryAction.MAPPED, to_add),
                (HistoryAction.UNMAPPED, to_remove),
            )
            for skill in skills
        ]
    )


@transaction.atomic
def skill_update(
    *,
    source: SkillSource,
    actor: AbstractBaseUser | None = None,
    agents_add: list[Agent] = (),
    agents_remove: list[Agent] = (),
) -> ImportReport:
    """A new version of one skill, its history and its agent mapping changes, all or nothing.

    The number of queries does not grow with the number of agents.
    """
    with measure_performance(SKILL_UPDATE, skill=source.filename):
        return _skill_update(source, actor, agents_add, agents_remove)


def _skill_update(
    source: SkillSource, actor: AbstractBaseUser | None, agents_add, agents_remove
) -> ImportReport:
    report = skills_import(sources=[source], actor=actor)
    slug = (report.created or report.updated or report.unchanged)[0]
    skill = Skill.objects.only("pk", "slug", "current_version").get(slug=slug)
    add_ids = {agent.pk for agent in agents_add}
    remove_ids = {agent.pk for agent in agents_remove} - add_ids
    mapped = set(
        AgentSkill.objects.filter(skill=skill, agent_id__in=add_ids | remove_ids).values_list(
            "agent_id", flat=True
        )
    )
    to_add = [agent for agent in agents_add if agent.pk not in mapped]
    to_remove = [agent for agent in agents_remove if agent.pk in mapped and agent.pk in remove_ids]
    if to_add:
        AgentSkill.objects.bulk_create(
            [AgentSkill(agent=agent, skill=skill) for agent in to_add], ignore_conflicts=True
        )
    if to_remove:
        AgentSkill.objects.filter(skill=skill, agent__in=to_remove).delete()
    history = [
        SkillHistory(
            skill=skill,
            version_id=skill.current_version_id,
            actor=actor,
            action=action,
            note=f"agent {agent.slug}",
        )
        for action, agents in ((HistoryAction.MAPPED, to_add), (HistoryAction.UNMAPPED, to_remove))
        for agent in agents
    ]
    if history:
        SkillHistory.objects.bulk_create(history)
    return report
