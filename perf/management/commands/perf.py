"""`manage.py perf analyze|check|monitor|benchmark|optimize|report|rollup|schedules`."""

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from perf.analysis import summary
from perf.benchmarking import baselines_set_from_results, benchmarks_run
from perf.insights import agent_metrics, cache_hit_rates, operations_report, slowest
from perf.monitor import resources_read
from perf.optimize import recommendations
from perf.regressions import ThresholdInvalidError, checks_run, threshold_checked
from perf.report import report_html
from perf.retention import rollup
from perf.schedules import schedules_ensure
from perf.windows import WindowError, window_parse


def milliseconds(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.2f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


class Command(BaseCommand):
    help = "Perf: analyze, check, monitor, benchmark, optimize, report, rollup, schedules."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        analyze = actions.add_parser("analyze", help="verdict per operation, slowest, cache hits")
        self._window_arguments(analyze, "24h")
        analyze.add_argument("--threshold", type=float, default=None)
        analyze.add_argument("--json", action="store_true", help="print JSON instead of tables")
        actions.add_parser("check", help="run the regression, budget and version checks now")
        monitor = actions.add_parser("monitor", help="live table of resources and percentiles")
        monitor.add_argument("--duration", type=float, default=60.0, help="seconds")
        monitor.add_argument("--interval", type=float, default=2.0, help="seconds between rows")
        monitor.add_argument(
            "--alert-threshold", type=float, default=None, help="CPU/memory %% to flag (1–100)"
        )
        benchmark = actions.add_parser("benchmark", help="time the operations, print, save")
        benchmark.add_argument("--output", type=Path, help="write the results as JSON here")
        benchmark.add_argument("--set-baseline", action="store_true")
        benchmark.add_argument("--operation", action="append", dest="operations")
        benchmark.add_argument("--rounds", type=int, default=None)
        optimize = actions.add_parser("optimize", help="recommendations with their numbers")
        self._window_arguments(optimize, "7d")
        report = actions.add_parser("report", help="a self-contained HTML report with charts")
        report.add_argument("--html", type=Path, required=True, help="the file to write")
        self._window_arguments(report, "24h")
        report.add_argument("--threshold", type=float, default=None)
        rollup_parser = actions.add_parser("rollup", help="hourly rollups, prune old samples")
        rollup_parser.add_argument("--retention-days", type=int, default=None)
        actions.add_parser("schedules", help="create or update perf's django-q2 schedules")

    @staticmethod
    def _window_arguments(parser: CommandParser, default_since: str) -> None:
        parser.add_argument("--since", default=default_since, help="ISO instant or span: 24h")
        parser.add_argument("--until", default=None)

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _window(self, options: dict):
        try:
            return window_parse(
                since=options["since"], until=options["until"], default_span=timedelta(hours=24)
            )
        except WindowError as error:
            raise CommandError(f"--{error.field}: {error}") from None

    # analyze ---------------------------------------------------------------------------------

    def _analyze(self, **options) -> None:
        since, until = self._window(options)
        try:
            threshold = threshold_checked(options["threshold"])
        except ThresholdInvalidError as error:
            raise CommandError(f"--threshold: {error}") from None
        reports = operations_report(since=since, until=until, threshold=threshold)
        found = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "operations": [report.as_dict() for report in reports],
            "slowest_skills": [
                s.as_dict() for s in slowest(field="skill", since=since, until=until)
            ],
            "slowest_steps": [s.as_dict() for s in slowest(field="step", since=since, until=until)],
            "cache_hit_rates": [r.as_dict() for r in cache_hit_rates(since=since, until=until)],
            "agents": [a.as_dict() for a in agent_metrics(since=since, until=until)],
        }
        if options["json"]:
            self.stdout.write(json.dumps(found, indent=2))
            return
        self.stdout.write(f"Operations {since:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC (ms)")
        rows = [
            [
                r["operation"],
                str(r["count"]),
                milliseconds(r["p50"]),
                milliseconds(r["p95"]),
                milliseconds(r["p99"]),
                milliseconds(r["budget"]),
                milliseconds(r["baseline_p99"]),
                r["verdict"],
            ]
            for r in found["operations"]
        ]
        headers = ["operation", "n", "p50", "p95", "p99", "budget", "base p99", "verdict"]
        self._table(headers, rows)
        for title, key in (
            ("Slowest skills", "slowest_skills"),
            ("Slowest steps", "slowest_steps"),
        ):
            self.stdout.write(f"\n{title}")
            self._table(
                ["name", "n", "mean ms", "max ms"],
                [
                    [
                        s["name"],
                        str(s["count"]),
                        milliseconds(s["average"]),
                        milliseconds(s["maximum"]),
                    ]
                    for s in found[key]
                ],
            )
        self.stdout.write("\nCache hit rates")
        self._table(
            ["cache", "hits", "total", "rate"],
            [
                [r["cache"], str(r["hits"]), str(r["total"]), percent(r["rate"])]
                for r in found["cache_hit_rates"]
            ],
        )
        self.stdout.write("\nAgents")
        self._table(
            ["agent", "tasks", "success", "mean ms", "queued"],
            [
                [
                    a["agent"],
                    str(a["tasks"]),
                    percent(a["success_rate"] if a["tasks"] else None),
                    milliseconds(a["mean_seconds"] if a["tasks"] else None),
                    str(a["queued"]),
                ]
                for a in found["agents"]
            ],
        )

    def _table(self, headers: list[str], rows: list[list[str]]) -> None:
        if not rows:
            self.stdout.write("  (nothing in this window)")
            return
        widths = [
            max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
        ]
        for line in [headers, *rows]:
            self.stdout.write(
                "  "
                + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            )

    # check, rollup, schedules ----------------------------------------------------------------

    def _check(self, **options) -> None:
        found = checks_run()
        self.stdout.write(", ".join(f"{name}: {count} breached" for name, count in found.items()))

    def _rollup(self, **options) -> None:
        days = options["retention_days"]
        if days is not None and days < 1:
            raise CommandError("--retention-days: must be at least 1")
        result = rollup(retention_days=days)
        self.stdout.write(
            f"Rolled up {result.hours} hour(s) into {result.rollups} rollup(s); pruned "
            f"{result.samples_pruned} sample(s) and {result.resources_pruned} resource sample(s)."
        )

    def _schedules(self, **options) -> None:
        self.stdout.write("Schedules ready: " + ", ".join(schedules_ensure()))

    # monitor ---------------------------------------------------------------------------------

    def _monitor(self, *, duration: float, interval: float, alert_threshold, **options) -> None:
        if alert_threshold is not None and not 1 <= alert_threshold <= 100:
            raise CommandError("--alert-threshold: a percentage from 1 to 100")
        if duration <= 0 or interval <= 0:
            raise CommandError("--duration and --interval must be above 0")
        flag_at = alert_threshold or settings.PERF_CPU_WARNING
        ends = time.monotonic() + duration
        redraw = sys.stdout.isatty()
        while True:
            reading = resources_read(cpu_interval=min(interval, 1.0))
            now = timezone.now()
            operations = summary(since=now - timedelta(minutes=1), until=now)
            if redraw:
                self.stdout.write("\033[2J\033[H", ending="")
            flags = [
                name
                for name, value in (("CPU", reading.cpu_percent), ("MEM", reading.memory_percent))
                if value > flag_at
            ]
            self.stdout.write(
                f"{now:%H:%M:%S}  cpu {reading.cpu_percent:5.1f}%  "
                f"mem {reading.memory_percent:5.1f}%  load {reading.load_1:.2f}  "
                f"files {reading.open_files}  queue {reading.queue_length}  "
                f"running {reading.running_tasks}"
                + (f"  !! {' '.join(flags)} over {flag_at:g}%" if flags else "")
            )
            self._table(
                ["operation (last min)", "n", "p50 ms", "p95 ms", "p99 ms"],
                [
                    [
                        o.operation,
                        str(o.count),
                        milliseconds(o.p50),
                        milliseconds(o.p95),
                        milliseconds(o.p99),
                    ]
                    for o in operations
                ],
            )
            remaining = ends - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(max(0.0, interval - 1.0), remaining))

    # benchmark, optimize ----------------------------------------------------------------------

    def _benchmark(self, *, output, set_baseline: bool, operations, rounds, **options) -> None:
        if rounds is not None and rounds < 1:
            raise CommandError("--rounds: at least 1")
        try:
            results = benchmarks_run(operations=operations, rounds=rounds)
        except KeyError as error:
            raise CommandError(error.args[0]) from None
        self._table(
            ["operation", "rounds", "median ms", "p95 ms", "p99 ms"],
            [
                [
                    r.operation,
                    str(r.rounds),
                    f"{r.median * 1000:.4f}",
                    f"{r.p95 * 1000:.4f}",
                    f"{r.p99 * 1000:.4f}",
                ]
                for r in results
                if r.is_measured
            ],
        )
        for result in results:
            if not result.is_measured:
                self.stdout.write(f"  {result.operation}: not measured ({result.skipped})")
        if output is not None:
            output.write_text(json.dumps([r.as_dict() for r in results], indent=2))
            self.stdout.write(f"Wrote {output}")
        if set_baseline:
            baselines = baselines_set_from_results(results)
            self.stdout.write(f"Set {len(baselines)} baseline(s) from this run.")

    def _report(self, *, html: Path, threshold: float | None, **options) -> None:
        since, until = self._window(options)
        try:
            threshold = threshold_checked(threshold)
        except ThresholdInvalidError as error:
            raise CommandError(f"--threshold: {error}") from None
        if not html.parent.is_dir():
            raise CommandError(f"--html: the folder {html.parent} does not exist")
        text = report_html(since=since, until=until, threshold=threshold)
        # Written beside the target, then moved: a failed run never leaves half a report.
        partial = html.with_name(f".{html.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(html)
        self.stdout.write(f"Wrote {html} ({len(text.encode()) // 1024} kB).")

    def _optimize(self, **options) -> None:
        since, until = self._window(options)
        found = recommendations(since=since, until=until)
        if not found:
            self.stdout.write("No recommendation: nothing in the data calls for a change.")
        for item in found:
            self.stdout.write(f"- [{item.kind}] {item.advice}\n    because: {item.evidence}")
