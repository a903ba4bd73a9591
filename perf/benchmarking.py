"""`manage.py perf benchmark`: time the platform's operations against the running system.

Each app registers its operations from its `AppConfig.ready()`, by importing a module of
functions such as:

    from perf.benchmarking import benchmark_register

    @benchmark_register("checkout", rounds=100)
    def checkout_of_one_item() -> None:
        checkout(items=1)

perf registers its own (recording overhead, the summary query).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from django.db import transaction

from perf.analysis import summary
from perf.budgets import baseline_set
from perf.models import Baseline, Sample
from perf.recording import buffer, flush, measure_performance

TIMING_SAMPLE_OPERATION = "benchmark_timing_sample"


class BenchmarkSkipped(Exception):
    """Raised by a benchmark's setup when the running system has nothing to measure it on."""


@dataclass(frozen=True)
class Benchmark:
    operation: str
    function: Callable[..., None]
    rounds: int
    inner: int  # calls per round, for operations too fast to time one at a time
    setup: Callable[[], tuple] | None = None  # run once, untimed: the function's arguments
    records: bool = False  # True when recording samples is what is measured


@dataclass(frozen=True)
class BenchmarkResult:
    operation: str
    rounds: int
    median: float
    p95: float
    p99: float
    minimum: float
    maximum: float
    skipped: str = ""  # why it was not measured

    @property
    def is_measured(self) -> bool:
        return not self.skipped

    def as_dict(self) -> dict:
        return asdict(self)


benchmarks: dict[str, Benchmark] = {}


def benchmark_register(
    operation: str,
    *,
    rounds: int = 30,
    inner: int = 1,
    setup: Callable[[], tuple] | None = None,
    records: bool = False,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `function(*setup())` as the benchmark of `operation`. Unless `records`, the
    samples the operation itself records are not kept: a benchmark must not look like traffic
    to the regression checks."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        benchmarks[operation] = Benchmark(operation, function, rounds, inner, setup, records)
        return function

    return register


def _quantile(ordered: list[float], fraction: float) -> float:
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def benchmark_run(benchmark: Benchmark, *, rounds: int | None = None) -> BenchmarkResult:
    try:
        arguments = benchmark.setup() if benchmark.setup is not None else ()
    except BenchmarkSkipped as skipped:
        return BenchmarkResult(benchmark.operation, 0, 0.0, 0.0, 0.0, 0.0, 0.0, str(skipped))
    function, timings = benchmark.function, []
    with _recording(benchmark.records):
        try:
            for _ in range(rounds or benchmark.rounds):
                started = time.perf_counter()
                for _ in range(benchmark.inner):
                    function(*arguments)
                timings.append((time.perf_counter() - started) / benchmark.inner)
        except Exception as error:  # one operation failing must not stop the others' figures
            reason = f"failed: {type(error).__name__}: {error}"
            return BenchmarkResult(benchmark.operation, 0, 0.0, 0.0, 0.0, 0.0, 0.0, reason)
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
    unknown = sorted(set(operations or []) - set(benchmarks))
    if unknown:
        known = ", ".join(sorted(benchmarks))
        raise KeyError(f"no benchmark for {', '.join(unknown)} (known: {known})")
    chosen = [benchmarks[name] for name in (operations or sorted(benchmarks))]
    try:
        return [benchmark_run(benchmark, rounds=rounds) for benchmark in chosen]
    finally:
        benchmark_samples_delete()


@contextmanager
def _recording(enabled: bool) -> Iterator[None]:
    saved = buffer.enabled
    buffer.configure(enabled=enabled and saved)
    try:
        yield
    finally:
        buffer.configure(enabled=saved)


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
            if result.is_measured
        ]


@benchmark_register("timing_sample", rounds=30, inner=10_000, records=True)
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
