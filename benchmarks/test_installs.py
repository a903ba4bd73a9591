"""Install benchmarks: cache hit, a new environment from a known lock, uv vs pip, a batch of 3,
the conflict pre-check across 50 skills, and a full resolution of a small set.

Targets (DESIGN.md): cache hit ≤ 5 ms; `requests` in a new environment with a warm uv cache and
a known lock ≤ 150 ms; a batch of 3 ≤ 1.15 × max(its slowest member, the CPU the three need ÷
cores); the pre-check across 50 skills ≤ 20 ms. Printed beside them: the uv/pip ratio (expect
≥ 20×) and a full resolution of a small set with a warm cache (≤ 1 s).
"""

import os
import resource
import statistics
import time

import pytest

from skills.installer import verifier
from skills.installer.builder import environment_ensure
from skills.installer.jobs import install_request
from skills.installer.keys import lock_key
from skills.installer.locks import locks_dir
from skills.installer.maintenance import environment_delete
from skills.installer.resolution import _parsed, conflicts_precheck, dependencies_resolve
from skills.models import Environment, InstallJob, Skill, SkillStatus, SkillVersion

pytestmark = pytest.mark.django_db(transaction=True)


def fresh_build_seconds(requirements: list[str], *, backend: str = "uv") -> float:
    """Delete the environment (files and row; its lock stays kept) and build it again."""
    for environment in Environment.objects.filter(backend=backend, requirements=requirements):
        environment_delete(environment_pk=environment.pk)
    started = time.perf_counter()
    environment_ensure(language="python", requirements=requirements, backend=backend)
    return time.perf_counter() - started


@pytest.mark.target("environment_cache_hit")
def test_environment_cache_hit(benchmark):
    environment_ensure(language="python", requirements=["requests"])

    def hit() -> None:
        environment_ensure(language="python", requirements=["requests"])

    benchmark.pedantic(hit, rounds=300, warmup_rounds=10)
    assert Environment.objects.get().build_count == 1


@pytest.mark.target("install_new_environment")
def test_new_environment_for_requests_from_a_known_lock(benchmark):
    environment_ensure(language="python", requirements=["requests"])  # warm cache, kept lock

    def reset() -> tuple:
        for environment in Environment.objects.all():
            environment_delete(environment_pk=environment.pk)
        return (), {}

    def build() -> None:
        environment_ensure(language="python", requirements=["requests"])

    benchmark.pedantic(build, setup=reset, rounds=15, warmup_rounds=1)


def test_uv_versus_pip_on_the_same_set(benchmark, note):
    for backend in ("uv", "pip"):
        fresh_build_seconds(["requests"], backend=backend)  # warm caches, kept locks
    pip = statistics.median(fresh_build_seconds(["requests"], backend="pip") for _ in range(3))

    def reset() -> tuple:
        for environment in Environment.objects.filter(backend="uv"):
            environment_delete(environment_pk=environment.pk)
        return (), {}

    benchmark.pedantic(
        lambda: environment_ensure(language="python", requirements=["requests"], backend="uv"),
        setup=reset,
        rounds=7,
    )
    uv = benchmark.stats.stats.median
    benchmark.extra_info.update(pip_median_seconds=pip, uv_median_seconds=uv, ratio=pip / uv)
    note(f"uv vs pip, requests, warm caches, known locks: uv {uv * 1e3:.0f} ms, "
         f"pip {pip * 1e3:.0f} ms, ratio {pip / uv:.1f}x (expect >= 20x)")  # fmt: skip


def skill_add(slug: str, requirements: list[str]) -> SkillVersion:
    skill = Skill.objects.create(
        slug=slug, category="bench", type="utility", status=SkillStatus.APPROVED
    )
    version = SkillVersion.objects.create(
        skill=skill,
        version="1.0.0",
        content_hash=slug.ljust(64, "0"),
        filename=f"{slug}.py",
        source="def run():\n    return {}\n",
        requirements=requirements,
    )
    Skill.objects.filter(pk=skill.pk).update(current_version=version)
    return SkillVersion.objects.select_related("skill").get(pk=version.pk)


def cpu_seconds() -> float:
    """CPU used by this process (all threads), its finished children (uv, verifiers in a new
    interpreter) and the warm verifiers' finished children (10 ms ticks)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    forked = sum(zygote.children_cpu_seconds() for zygote in verifier._zygotes.values())
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + forked


def single_install(version: SkillVersion) -> tuple[float, float]:
    """One skill's install request, built now (the path each member of a batch takes):
    (wall seconds, CPU seconds)."""
    for environment in Environment.objects.filter(requirements=list(version.requirements)):
        environment_delete(environment_pk=environment.pk)
    started, cpu = time.perf_counter(), cpu_seconds()
    [job] = install_request(skill_versions=[version], run_now=True).jobs
    assert job.status == "succeeded", job.error
    return time.perf_counter() - started, cpu_seconds() - cpu


@pytest.mark.target("install_batch_of_3")
def test_batch_of_3_new_environments(benchmark, bench_limit, settings, note):
    settings.MAX_CONCURRENT_INSTALLATIONS = 3
    sets = [["requests"], ["packaging", "six"], ["iniconfig", "pluggy"]]
    versions = [skill_add(f"batch-{index}", wanted) for index, wanted in enumerate(sets)]
    singles, cpu = {}, {}
    for version in versions:
        single_install(version)  # warm cache, kept lock, compiled bytecode
        runs = [single_install(version) for _ in range(5)]
        singles[version.skill.slug] = statistics.median(wall for wall, _ in runs)
        cpu[version.skill.slug] = statistics.median(used for _, used in runs)
    slowest = max(singles.values())
    # The builds cannot take less than the slowest of them, nor less than the CPU all three
    # need spread over this machine's cores (DESIGN.md's target).
    cores = len(os.sched_getaffinity(0))
    floor = max(slowest, sum(cpu.values()) / cores)
    bench_limit(1.15 * floor)

    def reset() -> tuple:
        for environment in Environment.objects.all():
            environment_delete(environment_pk=environment.pk)
        return (), {}

    def batch() -> None:
        result = install_request(skill_versions=versions, run_now=True)
        assert [job.status for job in result.jobs] == ["succeeded"] * 3

    benchmark.extra_info.update(
        single_seconds=singles,
        single_cpu_seconds=cpu,
        slowest_single_seconds=slowest,
        limit_seconds=1.15 * floor,
        cpu_floor_seconds=floor,
        cores=cores,
    )
    benchmark.pedantic(batch, setup=reset, rounds=9, warmup_rounds=1)
    median = benchmark.stats.stats.median
    figures = ", ".join(
        f"{slug} {seconds * 1e3:.0f} ms ({cpu[slug] * 1e3:.0f} ms CPU)"
        for slug, seconds in singles.items()
    )
    note(
        f"batch of 3: {median * 1e3:.0f} ms = {median / slowest:.2f}x the slowest single "
        f"install; alone (median of 5): {figures}; the CPU they need on {cores} cores "
        f"allows no less than {floor * 1e3:.0f} ms = {floor / slowest:.2f}x; the limit is "
        f"1.15x that floor: {1.15 * floor * 1e3:.0f} ms",
    )


def test_where_a_new_environment_spends_its_time(benchmark, note):
    """Not a target: the steps of a new `requests` environment from a known lock."""
    version = skill_add("profiled", ["requests"])
    single_install(version)
    rows = []

    def install() -> None:
        total, _ = single_install(version)
        job = InstallJob.objects.filter(skill_versions=version).latest("id")
        rows.append((total, job.install_seconds, job.verify_seconds))

    benchmark.pedantic(install, rounds=7)
    total, install_seconds, verify = (
        statistics.median(column) for column in zip(*rows, strict=True)
    )
    note(
        f"new environment, requests, known lock, through a job: {total * 1e3:.0f} ms = "
        f"venv + uv install {install_seconds * 1e3:.0f} ms, verify (import requests) "
        f"{verify * 1e3:.0f} ms, the rest (claims, rename, size, rows, log lines) "
        f"{(total - install_seconds - verify) * 1e3:.0f} ms",
    )


PACKAGES = [f"package-{index}" for index in range(40)]


def fifty_skills() -> dict[str, list[str]]:
    """50 skills asking for 4 packages each from a pool of 40, with compatible ranges."""
    sets = {}
    for skill in range(50):
        wanted = []
        for offset in range(4):
            package = PACKAGES[(skill * 7 + offset * 11) % len(PACKAGES)]
            low = 1 + (skill + offset) % 3
            wanted.append(f"{package}>={low}.0,<{low + 5}.0,!={low}.0.1")
        sets[f"skill-{skill}"] = wanted
    return sets


@pytest.mark.target("dependency_precheck_50")
def test_conflict_precheck_across_50_skills(benchmark, note):
    sets = fifty_skills()
    cold = []
    for _ in range(20):
        _parsed.cache_clear()
        started = time.perf_counter()
        conflicts_precheck(requirement_sets=sets)
        cold.append(time.perf_counter() - started)

    conflicts = benchmark.pedantic(
        lambda: conflicts_precheck(requirement_sets=sets), rounds=200, warmup_rounds=5
    )

    assert conflicts == []
    node_sets = {
        label: [text.replace(">=", "@>=").replace(",<", " <").split(",")[0] for text in texts]
        for label, texts in sets.items()
    }
    node = []
    for _ in range(20):
        started = time.perf_counter()
        assert conflicts_precheck(requirement_sets=node_sets, language="node") == []
        node.append(time.perf_counter() - started)
    benchmark.extra_info.update(
        cold_median_seconds=statistics.median(cold), node_median_seconds=statistics.median(node)
    )
    note(f"pre-check, 50 Node skills (npm ranges): {statistics.median(node) * 1e3:.2f} ms")
    note(
        f"pre-check, 50 skills, requirement strings never seen before: "
        f"{statistics.median(cold) * 1e3:.1f} ms median (the target row: strings seen before)",
    )


def test_full_resolution_of_a_small_set(benchmark, note):
    sets = {"fetch": ["requests>=2.31"], "text": ["six"], "config": ["iniconfig"]}
    dependencies_resolve(requirement_sets=sets)  # warm uv's cache

    def forget_kept_lock() -> tuple:
        from skills.installer.builder import spec_for

        combined = [text for texts in sets.values() for text in texts]
        key = lock_key(spec=spec_for(language="python", requirements=combined), resolver="uv")
        (locks_dir() / f"{key}.lock").unlink(missing_ok=True)
        return (), {}

    resolution = benchmark.pedantic(
        lambda: dependencies_resolve(requirement_sets=sets), setup=forget_kept_lock, rounds=7
    )

    assert resolution.ok
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(target_seconds=1.0)
    note(f"full resolution, 3 skills, warm cache: {median * 1e3:.0f} ms (target <= 1 s)")
