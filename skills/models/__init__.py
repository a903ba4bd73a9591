from skills.models.catalog import (
    Agent,
    AgentKind,
    AgentSkill,
    HistoryAction,
    Skill,
    SkillHistory,
    SkillLanguage,
    SkillStatus,
    SkillType,
    SkillVersion,
)
from skills.models.environments import (
    Environment,
    EnvironmentBackend,
    EnvironmentStatus,
    InstallJob,
    InstallJobStatus,
    InstallLogLine,
    InstallSlot,
)
from skills.models.runs import SkillRun, SkillRunStatus

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
    "Environment",
    "EnvironmentBackend",
    "EnvironmentStatus",
    "InstallJob",
    "InstallJobStatus",
    "InstallLogLine",
    "InstallSlot",
    "SkillRun",
    "SkillRunStatus",
]
