"""What people call a skill version that the runtime records by its content hash."""

from skills.models import SkillVersion


def skill_version_names(*, skill: str, versions: list[str]) -> dict[str, str]:
    """The name of each of `versions` that is the content hash of one of the skill's versions,
    "1.2.0 (3f2a9c1d0b7e)"; the others are left out."""
    numbers = dict(
        SkillVersion.objects.filter(skill__slug=skill, content_hash__in=versions).values_list(
            "content_hash", "version"
        )
    )
    return {version: f"{number} ({version[:12]})" for version, number in numbers.items()}
