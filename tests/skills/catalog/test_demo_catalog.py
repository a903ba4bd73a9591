"""The demo catalog in skills_library/: every skill's metadata is complete and every offline
example really runs, through Atom's own path, and returns its documented output.

Each skill is imported into the catalog and its examples are run with `run_skill`: the
environment is built by the installer (uv for Python, npm for Node) and the call goes to a warm
runner of that environment's pool. Environments are shared by requirement set and built once
per session; each test puts their rows back in its own transaction, so the catalog stays clean.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from django.db import transaction
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[3]
LIBRARY = ROOT / "skills_library"
CODE_SUFFIXES = {".py": "python", ".js": "node", ".mjs": "node"}
TYPES = {"transform", "extract", "analyze", "generate", "fetch", "validate", "utility"}
SLUG = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")
BLOCK = {
    "python": re.compile(r"(?ms)^# /// script\n(?P<body>.*?)^# ///$"),
    "node": re.compile(r"(?ms)^// /// script\n(?P<body>.*?)^// ///$"),
}
PREFIX = {"python": "#", "node": "//"}
REQUIRED = ("name", "version", "category", "type", "description", "tags", "entrypoint", "timeout")


@dataclass(frozen=True)
class SkillFile:
    path: Path
    language: str
    meta: dict

    @property
    def atom(self) -> dict:
        return self.meta["tool"]["atom"]

    @property
    def dependencies(self) -> tuple[str, ...]:
        return tuple(sorted(self.meta.get("dependencies", [])))

    def __str__(self) -> str:
        return str(self.path.relative_to(LIBRARY))


def read_metadata(path: Path, language: str) -> dict:
    """Parse the `/// script` block: strip the comment prefix from each line, then TOML."""
    match = BLOCK[language].search(path.read_text(encoding="utf-8"))
    assert match, f"{path}: no closed /// script block"
    prefix = PREFIX[language]
    lines = []
    for line in match["body"].splitlines():
        assert line == prefix or line.startswith(prefix + " "), f"{path}: bad block line {line!r}"
        lines.append(line[len(prefix) + 1 :])
    return tomllib.loads("\n".join(lines))


def entry_file(path: Path) -> Path | None:
    """The code file of a flat skill, or the one code file of a folder-form skill."""
    if path.is_file():
        return path if path.suffix in CODE_SUFFIXES else None
    if path.is_dir() and not path.name.startswith((".", "_")):
        code = [p for p in path.iterdir() if p.suffix in CODE_SUFFIXES]
        assert len(code) == 1, f"{path}: a folder skill holds exactly one entry file, not {code}"
        return code[0]
    return None


def discover() -> list[SkillFile]:
    skills = []
    for path in sorted(LIBRARY.iterdir()):
        if (entry := entry_file(path)) is not None:
            language = CODE_SUFFIXES[entry.suffix]
            skills.append(SkillFile(entry, language, read_metadata(entry, language)))
    return skills


SKILLS = discover()


def examples_of(skill: SkillFile) -> list[dict]:
    return skill.atom.get("examples", [])


def offline_examples(skill: SkillFile) -> list[dict]:
    return [ex for ex in examples_of(skill) if ex.get("offline", True)]


# --- the catalog as a whole -------------------------------------------------------------------


def test_catalog_size_and_spread():
    names = [s.atom["name"] for s in SKILLS]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate skill names: {duplicates}"
    assert len(SKILLS) >= 28
    assert len({s.atom["category"] for s in SKILLS}) >= 6
    assert sum(s.language == "node" for s in SKILLS) >= 2
    assert any(not s.dependencies for s in SKILLS if s.language == "python")
    assert any(s.dependencies for s in SKILLS if s.language == "python")


# --- each skill's metadata --------------------------------------------------------------------


@pytest.mark.parametrize("skill", SKILLS, ids=str)
def test_metadata(skill: SkillFile):
    atom = skill.atom
    missing = [field for field in REQUIRED if field not in atom]
    assert not missing, f"{skill}: missing {missing}"
    assert SLUG.match(atom["name"]), atom["name"]
    assert len(atom["name"]) <= 64, atom["name"]
    assert skill.path.stem == atom["name"], f"{skill}: file name must be <name>{skill.path.suffix}"
    if skill.path.parent != LIBRARY:
        assert skill.path.parent.name == atom["name"]
    assert atom["version"] == "1.0.0"
    assert SLUG.match(atom["category"])
    assert atom["type"] in TYPES
    assert 0 < len(atom["description"]) <= 2000
    assert "\n" not in atom["description"]
    assert all(SLUG.match(tag) for tag in atom["tags"]), atom["tags"]
    assert len(atom["tags"]) <= 20
    assert 0.1 <= atom["timeout"] <= 3600
    assert isinstance(atom.get("network", False), bool)

    schema = atom["inputs"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) <= set(schema["properties"])

    examples = examples_of(skill)
    assert examples, f"{skill}: needs at least one example"
    for example in examples:
        assert set(example) <= {"input", "output", "offline"}, f"{skill}: {sorted(example)}"
        jsonschema.validate(example["input"], schema)
        if not example.get("offline", True):
            assert atom.get("network") is True, f"{skill}: offline = false needs network = true"

    source = skill.path.read_text(encoding="utf-8")
    entrypoint = atom["entrypoint"]
    if skill.language == "python":
        functions = {
            node.name
            for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        assert entrypoint in functions, f"{skill}: entrypoint {entrypoint} is not defined"
        assert "print(" not in source, f"{skill}: skills return values instead of printing"
    else:
        exported = re.search(rf"module\.exports\s*=\s*\{{[^}}]*\b{entrypoint}\b", source)
        assert exported, f"{skill}: {entrypoint} is not exported with module.exports"
        for dep in skill.dependencies:
            assert re.match(r"^(@[a-z0-9-]+/)?[a-z0-9._-]+(@.+)?$", dep), dep


# --- each skill's examples, run for real through run_skill -------------------------------------


def manifest_of(skill: SkillFile):
    from skills.catalog.manifest import manifest_parse

    return manifest_parse(skill.path.read_bytes(), filename=skill.path.name)


@pytest.fixture(scope="session")
def demo_environments(django_db_setup, django_db_blocker, tmp_path_factory):
    """Build every requirement set the demo catalog needs once, with the installer; return
    the environments directory and the rows that describe them (rolled back here, put back by
    each test)."""
    import skills.runtime
    from perf.recording import buffer
    from skills.installer.builder import environment_ensure
    from skills.models import Environment

    envs_dir = tmp_path_factory.mktemp("demo-envs")
    sets = sorted(
        {(m.language, tuple(m.dependencies)) for m in map(manifest_of, SKILLS)},
    )
    with override_settings(ATOM_ENVS_DIR=envs_dir), django_db_blocker.unblock():
        with transaction.atomic():
            for language, requirements in sets:
                environment_ensure(language=language, requirements=list(requirements))
            rows = [
                {name: value for name, value in row.items() if name != "id"}
                for row in Environment.objects.values()
            ]
            transaction.set_rollback(True)
        buffer.clear()  # samples of a transaction that never committed
    yield envs_dir, rows
    skills.runtime.shutdown()


@pytest.fixture
def demo_runtime(demo_environments, settings):
    from skills.models import Environment

    envs_dir, rows = demo_environments
    settings.ATOM_ENVS_DIR = envs_dir
    Environment.objects.bulk_create(Environment(**row) for row in rows)


@pytest.mark.django_db
@pytest.mark.parametrize("skill", SKILLS, ids=str)
def test_examples_run_through_run_skill(skill: SkillFile, demo_runtime):
    from skills.catalog.importer import SkillSource, skills_import
    from skills.models import Skill
    from skills.runs.calls import run_skill

    examples = offline_examples(skill)
    if not examples:
        pytest.skip(f"{skill}: every example needs the network")
    skills_import(sources=[SkillSource.from_path(skill.path)], approve=True)
    imported = Skill.objects.select_related("current_version").get(slug=skill.atom["name"])

    for example in examples:
        call = run_skill(imported, example["input"])
        assert call.error is None, f"{skill}: input {example['input']}: {call.error}"
        assert call.cache in {"hit", "loaded", "reloaded"}
        if "output" in example:
            assert call.result == example["output"], f"{skill}: input {example['input']}"
        else:  # not deterministic: it must still return something JSON can encode
            assert call.result is not None
