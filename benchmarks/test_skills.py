"""Catalog benchmarks: a skill update (new version + history + mappings) and a 1,000-file import.

Targets (DESIGN.md): skill update ≤ 10 ms (the reference system took 535 ms against a 500 ms
budget); importing 1,000 skill files ≤ 2 s.
"""

import itertools

import pytest

from skills.catalog import skill_update
from skills.importer import SkillSource, skills_import
from skills.models import Agent

pytestmark = pytest.mark.django_db(transaction=True)

SKILL_TEMPLATE = """# /// script
# requires-python = ">=3.12"
# dependencies = ["requests>=2.31"]
#
# [tool.atom]
# name = "{name}"
# version = "{version}"
# category = "data"
# type = "transform"
# description = "Benchmark skill {name}, version {version}."
# tags = ["bench", "data"]
# ///
def run(value: int = 0) -> dict:
    return {{"value": value + {version_number}}}
"""


def source(name: str, version: int) -> SkillSource:
    text = SKILL_TEMPLATE.format(name=name, version=f"1.{version}.0", version_number=version)
    return SkillSource(f"{name}.py", f"{name}.py", text.encode())


def test_skill_update_new_version_history_and_mappings(benchmark):
    skills_import(sources=[source("bench-update", 0)])
    agents = [Agent.objects.create(slug=f"bench-agent-{i}", name=f"Agent {i}") for i in range(3)]
    versions = itertools.count(1)

    def update() -> None:
        skill_update(source=source("bench-update", next(versions)), agents_add=agents)

    benchmark.extra_info.update(operation="skill_update", target_seconds=0.010, reference=0.535)
    benchmark.pedantic(update, rounds=200, warmup_rounds=5)


def test_import_of_1000_skill_files(benchmark):
    rounds = itertools.count()

    def batch() -> tuple:
        round_number = next(rounds)
        return ([source(f"bench-{round_number}-{i}", 0) for i in range(1000)],), {}

    def import_all(sources) -> None:
        report = skills_import(sources=sources)
        assert len(report.created) == 1000

    benchmark.extra_info.update(operation="skill_import_1000", target_seconds=2.0)
    benchmark.pedantic(import_all, setup=batch, rounds=3)
