from skills.models.catalog import (
    Agent,
    AgentSkill,
    AgentKind,
    HistoryAction,
    Skill,
    SkillHistory,
    SkillLanguage,
    SkillStatus,
    SkillType,
    SkillVersion,
)

__all__ = [
    "AgentKind",
    "Agent",
    "AgentSkill",
    "HistoryAction",
    "Skill",
    "SkillHistory",
    "SkillLanguage",
    "SkillStatus",
    "SkillType",
    "SkillVersion",
]
