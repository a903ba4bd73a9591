"""`manage.py perf benchmark`: time the platform's operations against the running system.

Each app may add its operations in a `benchmarks.py` module (found by autodiscovery):

    from perf.benchmarking import benchmark_register

    @benchmark_register("marketplace_search", rounds=100)
    def marketplace_search_category() -> None:
        skill_search(category="text")

perf registers its own (recording overhead, the summary query).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from perf.analysis import summary
from perf.budgets import baseline_set
from perf.models import Baseline, Sample
from perf.recording import flush, measure_performance

BenchmarkFunction = Callable[[], None]
TIMING_SAMPLE_OPERATION = "benchmark_timing_sample"


@dataclass(frozen=True)
class Benchmark:
    operation: str
    function: BenchmarkFunction
    rounds: int
    inner: int  # calls per round, for operations too fast to time one at a time


@dataclass(frozen=True)
class BenchmarkResult:
    operation: str
    rounds: int
    median: float
    p95: float
    p99: float
    minimum: float
    maximum: float

    def as_dict(self) -> dict:
        return asdict(self)


registry: dict[str, Benchmark] = {}


def benchmark_register(
    operation: str, *, rounds: int = 30, inner: int = 1
) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
    def register(function: BenchmarkFunction) -> BenchmarkFunction:
        registry[operation] = Benchmark(operation, function, rounds, inner)
        return function

    return register


def benchmarks_discover() -> dict[str, Benchmark]:
    autodiscover_modules("benchmarks")
    return registry


def _quantile(ordered: list[float], fraction: float) -> float:
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def benchmark_run(benchmark: Benchmark, *, rounds: int | None = None) -> BenchmarkResult:
    timings = []
    for _ in range(rounds or benchmark.rounds):
        started = time.perf_counter()
        for _ in range(benchmark.inner):
            benchmark.function()
        timings.append((time.perf_counter() - started) / benchmark.inner)
    ordered = sorted(timings)
    return BenchmarkResult(
        benchmark.operation,
        len(ordered),
        statistics.median(ordered),
        _quantile(ordered, 0.95),
        _quantile(ordered, 0.99),
        ordered[0],
        ordered[-1],
    )


def benchmarks_run(
    *, operations: list[str] | None = None, rounds: int | None = None
) -> list[BenchmarkResult]:
    found = benchmarks_discover()
    unknown = sorted(set(operations or []) - set(found))
    if unknown:
        raise KeyError(f"no benchmark for {', '.join(unknown)} (known: {', '.join(sorted(found))})")
    chosen = [found[name] for name in (operations or sorted(found))]
    try:
        return [benchmark_run(benchmark, rounds=rounds) for benchmark in chosen]
    finally:
        benchmark_samples_delete()


def baselines_set_from_results(results: list[BenchmarkResult]) -> list[Baseline]:
    with transaction.atomic():
        return [
            baseline_set(
                operation=result.operation,
                p50=result.median,
                p95=result.p95,
                p99=result.p99,
                count=result.rounds,
                source=Baseline.Source.BENCHMARK,
            )
            for result in results
        ]


@benchmark_register("timing_sample", rounds=30, inner=10_000)
def timing_sample_overhead() -> None:
    """One measured empty block: the whole cost of measuring a hot path."""
    with measure_performance(TIMING_SAMPLE_OPERATION):
        pass


@benchmark_register("perf_summary", rounds=10)
def perf_summary() -> None:
    summary()


def benchmark_samples_delete() -> int:
    """The timing_sample benchmark's own samples are written like any others (that cost is part
    of what it measures), then deleted."""
    flush()
    deleted, _ = Sample.objects.filter(operation=TIMING_SAMPLE_OPERATION).delete()
    return deleted
