"""A small catalog for workflow tests: approved skills with inputs schemas, one draft, one
deprecated, one pinned to an older version, and two whose requirements conflict."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from skills.catalog.importer import SkillSource, skills_import
from skills.models import Skill, SkillStatus

TEXT_INPUTS = (
    "#\n"
    "# [tool.atom.inputs]\n"
    '# type = "object"\n'
    '# required = ["text"]\n'
    "# additionalProperties = false\n"
    "#\n"
    "# [tool.atom.inputs.properties.text]\n"
    '# type = "string"\n'
    "# minLength = 1\n"
    "#\n"
    "# [tool.atom.inputs.properties.top]\n"
    '# type = "integer"\n'
    "# minimum = 1\n"
)


def skill_text(name: str, *, version: str = "1.0.0", dependencies: list[str] | None = None,
               inputs: str = TEXT_INPUTS) -> str:  # fmt: skip
    deps = ", ".join(f'"{d}"' for d in dependencies or [])
    return (
        "# /// script\n"
        '# requires-python = ">=3.12"\n'
        f"# dependencies = [{deps}]\n"
        "#\n"
        "# [tool.atom]\n"
        f'# name = "{name}"\n'
        f'# version = "{version}"\n'
        '# category = "text"\n'
        '# type = "transform"\n'
        '# description = "A skill for workflow tests."\n'
        "# timeout = 20\n"
        f"{inputs}"
        "# ///\n"
        "def run(text: str = '', top: int = 1) -> dict:\n"
        "    return {'text': text, 'rows': [text] * top}\n"
    )


def skills_add(*texts: str, approve: bool = True) -> None:
    sources = [SkillSource(f"s{i}.py", f"s{i}.py", text.encode()) for i, text in enumerate(texts)]
    skills_import(sources=sources, approve=approve)


@pytest.fixture
def catalog(db) -> None:
    skills_add(
        skill_text("upper-text"),
        skill_text("count-words"),
        skill_text("old-style", version="1.0.0"),
        skill_text("needs-old-lib", dependencies=["packaging<20"]),
        skill_text("needs-new-lib", dependencies=["packaging>=24"]),
    )
    skills_add(skill_text("old-style", version="2.0.0"))
    skills_add(skill_text("draft-skill"), approve=False)
    skills_add(skill_text("gone-skill"))
    Skill.objects.filter(slug="gone-skill").update(status=SkillStatus.DEPRECATED)


@pytest.fixture
def definition() -> Callable[..., dict[str, Any]]:
    """A valid definition to start from: fetch → (upper, count)."""

    def make(**changes: Any) -> dict[str, Any]:
        base = {
            "name": "Text report",
            "slug": "text-report",
            "version": "1.0.0",
            "description": "Shout and count.",
            "inputs": {"type": "object", "properties": {"text": {"type": "string"}}},
            "steps": [
                {"id": "first", "skill": "upper-text", "params": {"text": {"$ref": "inputs.text"}}},
                {
                    "id": "upper",
                    "skill": "upper-text",
                    "params": {"text": {"$ref": "steps.first.output.text"}},
                    "depends_on": ["first"],
                },
                {
                    "id": "count",
                    "skill": "count-words",
                    "params": {"text": "literal words", "top": 3},
                    "depends_on": ["first"],
                },
            ],
        }
        base.update(changes)
        return base

    return make


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "editor", password="pw", is_staff=True, is_superuser=True
    )


@pytest.fixture(scope="session", autouse=True)
def _catalog_events_sent_before_the_test_databases_go(django_db_setup):
    """Events still queued at the end must not be sent into dropped test databases."""
    yield
    from skills.catalog.announcements import announcements_flush

    announcements_flush(10)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
