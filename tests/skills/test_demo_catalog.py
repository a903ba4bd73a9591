"""The demo catalog in skills_library/: every skill's metadata is complete and every offline
example really runs and returns its documented output.

Interim harness: it builds environments with uv/npm and calls the entrypoint itself; it will
switch to Atom's own install + runner path once those exist.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
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

# Imports the skill from its file, calls the entrypoint with each input (JSON list on stdin) as
# keyword arguments, and writes the list of results as JSON.
PY_DRIVER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("atom_skill", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
entry = getattr(module, sys.argv[2])
json.dump([entry(**params) for params in json.load(sys.stdin)], sys.stdout)
"""
NODE_DRIVER = """
const entry = require(process.argv[1])[process.argv[2]];
const inputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const results = [];
  for (const params of inputs) results.push(await entry(params));
  process.stdout.write(JSON.stringify(results));
})().catch((err) => { console.error(err); process.exit(1); });
"""


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


# --- each skill's examples, run for real ------------------------------------------------------


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv and (ROOT / ".tools/bin/uv").exists():
        uv = str(ROOT / ".tools/bin/uv")
    if not uv:
        pytest.fail("uv not found: run through bin/test, or `source bin/env.sh`")
    return uv


def _sh(command: list[str], **kwargs) -> None:
    """Run a build command; on failure, show its output rather than a bare exit status."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command[:3]} failed:\n{result.stdout}\n{result.stderr}"


class Environments:
    """One isolated environment per (language, dependency set), built on first use."""

    def __init__(self, base: Path):
        self.base = base
        self.built: dict[tuple[str, tuple[str, ...]], Path] = {}

    def get(self, language: str, deps: tuple[str, ...]) -> Path:
        key = (language, deps)
        if key not in self.built:
            digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
            target = self.base / f"{language}-{digest}"
            build = self._python if language == "python" else self._node
            build(target, deps)
            self.built[key] = target
        return self.built[key]

    def _python(self, target: Path, deps: tuple[str, ...]) -> None:
        uv, env = _uv(), {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
        _sh([uv, "venv", "--quiet", "--python", sys.executable, str(target)], env=env, timeout=120)
        if deps:
            python = str(target / "bin" / "python")
            _sh([uv, "pip", "install", "--quiet", "--python", python, *deps], env=env, timeout=300)

    def _node(self, target: Path, deps: tuple[str, ...]) -> None:
        target.mkdir(parents=True)
        (target / "package.json").write_text('{"private": true}')
        if deps:
            npm = shutil.which("npm") or pytest.fail("npm not found")
            _sh(
                [npm, "install", "--no-audit", "--no-fund", "--silent", *deps],
                cwd=target,
                timeout=300,
            )


@pytest.fixture(scope="session")
def environments(tmp_path_factory) -> Environments:
    return Environments(tmp_path_factory.mktemp("skill-envs"))


def run_examples(skill: SkillFile, env: Path, inputs: list[dict]) -> list:
    entrypoint = skill.atom["entrypoint"]
    if skill.language == "python":
        python = str(env / "bin" / "python")  # -I: isolated from user site and env, -B: no .pyc
        command = [python, "-I", "-B", "-c", PY_DRIVER, str(skill.path), entrypoint]
        extra = {}
    else:
        command = ["node", "-e", NODE_DRIVER, str(skill.path), entrypoint]
        extra = {"NODE_PATH": str(env / "node_modules")}
    result = subprocess.run(
        command,
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=60 + sum(skill.atom["timeout"] for _ in inputs),
        cwd=env,
        env={**os.environ, **extra},
    )
    assert result.returncode == 0, f"{skill} failed:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.mark.parametrize("skill", SKILLS, ids=str)
def test_examples_run(skill: SkillFile, environments: Environments):
    examples = offline_examples(skill)
    if not examples:
        pytest.skip(f"{skill}: every example needs the network")
    env = environments.get(skill.language, skill.dependencies)
    results = run_examples(skill, env, [ex["input"] for ex in examples])
    for example, result in zip(examples, results, strict=True):
        if "output" in example:
            assert result == example["output"], f"{skill}: input {example['input']}"
        else:  # not deterministic: it must still return something JSON can encode
            assert result is not None
