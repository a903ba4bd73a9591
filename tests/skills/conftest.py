from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def skill_source(
    name: str = "echo-text",
    *,
    version: str = "1.0.0",
    category: str = "text",
    type: str = "transform",
    dependencies: list[str] | None = None,
    body: str = "def run(text: str = '') -> dict:\n    return {'text': text}\n",
    extra: str = "",
) -> str:
    deps = ", ".join(f'"{d}"' for d in dependencies or [])
    return (
        "# /// script\n"
        '# requires-python = ">=3.12"\n'
        f"# dependencies = [{deps}]\n"
        "#\n"
        "# [tool.atom]\n"
        f'# name = "{name}"\n'
        f'# version = "{version}"\n'
        f'# category = "{category}"\n'
        f'# type = "{type}"\n'
        '# description = "Return the text it is given."\n'
        '# tags = ["demo"]\n'
        f"{extra}"
        "# ///\n"
        f"{body}"
    )


@pytest.fixture
def write_skill(tmp_path: Path):
    """Write a skill file under tmp_path/skills and return its path."""
    folder = tmp_path / "skills"
    folder.mkdir(exist_ok=True)

    def write(filename: str = "echo-text.py", **kwargs) -> Path:
        path = folder / filename
        path.write_text(skill_source(**kwargs))
        return path

    return write


@pytest.fixture(scope="session", autouse=True)
def _catalog_events_sent_before_the_test_databases_go(django_db_setup):
    """Events still queued at the end must not be sent into dropped test databases."""
    yield
    from skills.catalog.announcements import announcements_flush

    announcements_flush(10)


# The catalog side: skills imported into the test database, run through run_skill -------------

CATALOG_INPUTS = (
    "#\n"
    "# [tool.atom.inputs]\n"
    '# type = "object"\n'
    '# required = ["text"]\n'
    "#\n"
    "# [tool.atom.inputs.properties.text]\n"
    '# type = "string"\n'
)
SHOUT = "def run(text):\n    print('shouting', text)\n    return text.upper()\n"


@pytest.fixture
def catalog_runtime(settings, tmp_path: Path) -> Iterator[None]:
    """This test's environments directory, and the process's pools stopped before and after
    (they read settings when made)."""
    import skills.runtime

    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    skills.runtime.shutdown()
    yield
    skills.runtime.shutdown()


@pytest.fixture
def publish(catalog_runtime, tmp_path: Path) -> Callable[..., object]:
    """Import a skill file (approved unless told otherwise) and return the skill
    (by default ``shout``: its ``text`` upper-cased, printing a line)."""
    from skills.catalog.importer import SkillSource, skills_import
    from skills.models import Skill

    def publish_skill(
        name: str = "shout",
        body: str = SHOUT,
        *,
        extra: str = CATALOG_INPUTS,
        approve: bool = True,
        dependencies: list[str] | None = None,
    ) -> Skill:
        path = tmp_path / f"{name}.py"
        path.write_text(skill_source(name, body=body, extra=extra, dependencies=dependencies))
        skills_import(sources=[SkillSource.from_path(path)], approve=approve)
        return Skill.objects.select_related("current_version").get(slug=name)

    return publish_skill


@pytest.fixture
def ready(publish) -> Callable[..., object]:
    """``publish``, with the skill's environment installed (a synchronous run needs that)."""
    from skills.installer.builder import environment_for_skill_version

    def publish_ready(*args, **kwargs):
        skill = publish(*args, **kwargs)
        environment_for_skill_version(skill_version=skill.current_version)
        return skill

    return publish_ready
