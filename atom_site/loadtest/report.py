"""The load test's tables: latency percentiles per operation, and memory per process."""

import statistics

from atom_site.loadtest import LoadTestResult


def percentiles_ms(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return (values[0] * 1000,) * 3
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


def latency_table(result: LoadTestResult) -> str:
    lines = [
        "| operation | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    tally = result.tally
    rows = sorted(tally.latencies.items(), key=lambda item: -len(item[1]))
    everything = [value for _, values in rows for value in values]
    for name, values in [*rows, ("all", everything)]:
        errors = tally.error_count if name == "all" else tally.errors.get(name, 0)
        p50, p95, p99 = percentiles_ms(values) if values else (0.0, 0.0, 0.0)
        lines.append(
            f"| {name} | {len(values)} | {errors} | {len(values) / result.seconds:.1f} "
            f"| {p50:.1f} | {p95:.1f} | {p99:.1f} |"
        )
    return "\n".join(lines)


def memory_table(result: LoadTestResult) -> str:
    lines = ["| pid | process | RSS start MB | RSS end MB | growth |", "|---:|---|---:|---:|---:|"]
    pids = sorted(result.memory_start.keys() | result.memory_end.keys())
    for pid in pids:
        start, end = result.memory_start.get(pid), result.memory_end.get(pid)
        role = (start or end).role
        before = f"{start.rss / 2**20:.1f}" if start else "(not yet)"
        after = f"{end.rss / 2**20:.1f}" if end else "(gone)"
        growth = f"{(end.rss - start.rss) / start.rss:+.1%}" if start and end else ""
        lines.append(f"| {pid} | {role} | {before} | {after} | {growth} |")
    lines.append(f"| | all alive at both | | | {result.memory_growth:+.1%} |")
    return "\n".join(lines)
