"""Fixtures for the runtime: skill files in temporary directories and pools of real runners."""

import hashlib
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skills.runtime import PoolRegistry, RunnerPool, RuntimeConfig, bwrap_executable

NODE = shutil.which("node")


@pytest.fixture(params=["none", "bwrap"])
def sandbox(request: pytest.FixtureRequest) -> str:
    """Each runner test runs once as a plain process and once under bubblewrap."""
    if request.param == "bwrap" and bwrap_executable() is None:
        pytest.skip("bubblewrap is not installed (or cannot create namespaces) here")
    return request.param


@pytest.fixture
def write_skill(tmp_path: Path) -> Callable[..., Path]:
    """Write a skill file (dedented) and return its path; the same name overwrites."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / "skills" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    return write


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def make_registry(sandbox: str) -> Iterator[Callable[..., PoolRegistry]]:
    """Registries with a test's own config; every runner they start is stopped afterwards."""
    registries: list[PoolRegistry] = []

    def make(**changes: object) -> PoolRegistry:
        settings = {
            "sandbox": sandbox,
            "min_runners": 1,
            "max_runners": 2,
            "record_timings": False,
            "start_timeout": 20.0,
            "acquire_timeout": 30.0,
        }
        settings.update(changes)
        registry = PoolRegistry(RuntimeConfig(**settings))
        registries.append(registry)
        return registry

    yield make
    for registry in registries:
        registry.shutdown()


@pytest.fixture
def python_pool(make_registry: Callable[..., PoolRegistry]) -> RunnerPool:
    return make_registry().pool_for("test-python", sys.executable, "python")


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
    from skills.importer import SkillSource, skills_import
    from skills.models import Skill
    from tests.skills.conftest import skill_source

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
