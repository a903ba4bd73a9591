import pytest

from skills.models import Skill, SkillStatus, SkillVersion

CATALOG = [
    # slug, category, type, description, tags, requirements, install_count
    ("pandas-profile", "data", "analyze", "Profile a table of rows.", ["tables"], ["pandas"], 50),
    ("pandas-merge", "data", "transform", "Join two tables on a key.", ["tables"], ["pandas"], 20),
    ("csv-reader", "data", "extract", "Read CSV files into a pandas data frame.", [], [], 90),
    ("numpy-stats", "data", "analyze", "Summary statistics for arrays.", ["math"], ["numpy"], 5),
    ("excel-export", "data", "generate", "Write a pandas frame to Excel.", ["office"], [], 1),
    ("slugify-text", "text", "transform", "Turn text into a slug.", ["strings"], [], 70),
    ("word-count", "text", "analyze", "Count words in a document.", ["strings"], [], 30),
    ("http-fetch", "web", "fetch", "Fetch a web page over HTTP.", ["network"], ["httpx"], 10),
]


def skill_create(
    slug: str,
    *,
    category: str = "misc",
    type: str = "utility",
    description: str = "",
    tags: list[str] | None = None,
    requirements: list[str] | None = None,
    install_count: int = 0,
    status: str = SkillStatus.APPROVED,
) -> Skill:
    skill = Skill.objects.create(
        slug=slug,
        category=category,
        type=type,
        description=description,
        tags=tags or [],
        install_count=install_count,
        status=status,
    )
    version = SkillVersion.objects.create(
        skill=skill,
        version="1.0.0",
        content_hash=slug,
        filename=f"{slug}.py",
        source="def run():\n    return {}\n",
        requirements=requirements or [],
    )
    Skill.objects.filter(pk=skill.pk).update(current_version=version)
    skill.current_version = version
    return skill


@pytest.fixture
def catalog(db) -> list[Skill]:
    skills = [
        skill_create(
            slug,
            category=category,
            type=type,
            description=description,
            tags=tags,
            requirements=requirements,
            install_count=installs,
        )
        for slug, category, type, description, tags, requirements, installs in CATALOG
    ]
    skills.append(
        skill_create("pandas-draft", category="data", description="Not yet.", status="draft")
    )
    return skills
