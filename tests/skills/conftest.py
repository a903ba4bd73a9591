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
    from skills.announcements import announcements_flush

    announcements_flush(10)
