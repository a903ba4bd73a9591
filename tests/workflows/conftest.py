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


# The engine's tests ------------------------------------------------------------------------

ENGINE_SKILLS = {
    "echo": "def run(value=None, label=''):\n    return {'value': value, 'label': label}\n",
    "add": "def run(a=0, b=0):\n    return {'sum': a + b}\n",
    "boom": "def run(**params):\n    raise ValueError('boom: ' + repr(params))\n",
    "sleepy": (
        "import os\nimport time\n\n"
        "def run(seconds=1.0, mark='', value=None):\n"
        "    if mark:\n"
        "        with open(mark + '.started', 'a') as f:\n"
        "            f.write(f'{os.getpid()}\\n')\n"
        "    time.sleep(seconds)\n"
        "    if mark:\n"
        "        with open(mark, 'a') as f:\n"
        "            f.write('done\\n')\n"
        "    return {'slept': seconds, 'value': value}\n"
    ),
    "big": "def run(size=10):\n    return {'blob': 'x' * size}\n",
    "not-json": "def run():\n    return {'when': object()}\n",
    "chatty": (
        "import sys\nimport time\n\n"
        "def run(lines=3, per_second=0):\n"
        "    for index in range(lines):\n"
        "        print(f'line {index}', flush=True)\n"
        "        if per_second:\n"
        "            time.sleep(1 / per_second)\n"
        "    print('done', file=sys.stderr)\n"
        "    return {'lines': lines}\n"
    ),
}


def engine_skill_text(name: str, body: str, *, timeout: float = 20) -> str:
    return (
        "# /// script\n"
        '# requires-python = ">=3.12"\n'
        "# dependencies = []\n"
        "#\n"
        "# [tool.atom]\n"
        f'# name = "{name}"\n'
        '# version = "1.0.0"\n'
        '# category = "text"\n'
        '# type = "transform"\n'
        '# description = "A skill for engine tests."\n'
        f"# timeout = {timeout}\n"
        "# ///\n" + body
    )


@pytest.fixture
def engine_skills(tmp_path_factory) -> None:
    """Approved skills with no packages, from files (the runners read them)."""
    folder = tmp_path_factory.mktemp("engine-skills")
    sources = []
    for name, body in ENGINE_SKILLS.items():
        path = folder / f"{name}.py"
        path.write_text(engine_skill_text(name, body))
        sources.append(SkillSource.from_path(path))
    skills_import(sources=sources, approve=True)


@pytest.fixture
def workflow_make(engine_skills):
    """Save a workflow from steps (and options) and return it."""
    from workflows.services import workflow_save

    def make(slug: str, steps: list[dict[str, Any]], **options: Any):
        definition = {"name": slug, "slug": slug, "steps": steps, **options}
        return workflow_save(definition=definition).workflow

    return make


@pytest.fixture
def q_sync(monkeypatch):
    """django-q2 runs each task at once, in this process (a test about logic, not workers)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
