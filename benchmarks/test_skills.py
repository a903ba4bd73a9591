"""Catalog benchmarks: a skill update (new version + history + mappings), a 1,000-file import,
and the watcher's editor save → new version in the database.

Targets (DESIGN.md and issue 3): skill update ≤ 10 ms (the reference system took 535 ms against
a 500 ms budget); importing 1,000 skill files ≤ 2 s; a save becomes a version within 100 ms.
"""

import itertools
import queue
import statistics
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from skills.catalog.importer import SkillSource, skills_import
from skills.catalog.transitions import skill_update
from skills.catalog.watcher import SkillsWatcher
from skills.models import Agent, Skill

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


@pytest.mark.target("skill_update")
def test_skill_update_new_version_history_and_mappings(benchmark):
    skills_import(sources=[source("bench-update", 0)])
    agents = [Agent.objects.create(slug=f"bench-agent-{i}", name=f"Agent {i}") for i in range(3)]
    versions = itertools.count(1)

    def update() -> None:
        skill_update(source=source("bench-update", next(versions)), agents_add=agents)

    benchmark.extra_info.update(target_seconds=0.010, reference=0.535)
    benchmark.pedantic(update, rounds=200, warmup_rounds=5)


def test_import_of_1000_skill_files(benchmark, note):
    rounds = itertools.count()

    def batch() -> tuple:
        round_number = next(rounds)
        return ([source(f"bench-{round_number}-{i}", 0) for i in range(1000)],), {}

    def import_all(sources) -> None:
        report = skills_import(sources=sources)
        assert len(report.created) == 1000

    benchmark.extra_info.update(target_seconds=2.0)
    benchmark.pedantic(import_all, setup=batch, rounds=3)
    median = benchmark.stats.stats.median
    note(f"import of 1,000 skill files: {median:.2f} s median (target <= 2 s)")


def test_watcher_save_to_new_version_in_the_database(benchmark, tmp_path: Path, note):
    """From an editor's save (temporary file renamed over the original) to the new version
    committed, with the configured debounce (ATOM_WATCH_DEBOUNCE_MS) included."""
    outcomes: queue.Queue = queue.Queue()
    watcher = SkillsWatcher(
        tmp_path, debounce=settings.ATOM_WATCH_DEBOUNCE_MS / 1000, on_outcome=outcomes.put
    )
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    assert watcher.ready.wait(5)
    path = tmp_path / "bench-watch.py"
    path.write_text(source("bench-watch", 0).data.decode())
    assert outcomes.get(timeout=10).action == "created"
    versions = itertools.count(1)
    durations = []

    def save_and_wait() -> None:
        text = source("bench-watch", next(versions)).data.decode()
        temporary = path.with_name(f".{path.name}.swp")
        started = time.perf_counter()
        temporary.write_text(text)
        temporary.replace(path)
        outcome = outcomes.get(timeout=10)
        durations.append(time.perf_counter() - started)
        assert outcome.action == "updated", outcome

    try:
        benchmark.pedantic(save_and_wait, rounds=40, warmup_rounds=2)
    finally:
        watcher.stop()
        thread.join(5)
    assert Skill.objects.get(slug="bench-watch").versions.count() == 43
    p95 = statistics.quantiles(durations, n=20)[-1]
    benchmark.extra_info.update(target_seconds=0.100, statistic="p95")
    note(
        f"watcher, save -> new version committed: {statistics.median(durations) * 1e3:.1f} ms "
        f"median, {p95 * 1e3:.1f} ms p95 (target <= 100 ms; debounce "
        f"{settings.ATOM_WATCH_DEBOUNCE_MS} ms included)",
    )
