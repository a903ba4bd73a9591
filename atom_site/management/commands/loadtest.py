import os
import tempfile

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atom_site.loadtest import (
    SOAK_WARMUP_SECONDS,
    WARMUP_SECONDS,
    load_test_run,
    warmup_seconds,
)
from atom_site.loadtest.report import latency_table, memory_table
from atom_site.loadtest.stack import LoadTestError


class Command(BaseCommand):
    help = (
        "Start Atom on loopback and drive it with concurrent clients (searches, skill runs, "
        "installs, workflow starts) for a bounded time; print latencies and memory."
    )
    # The stack's `manage.py up` checks the database first (creating a missing PostgreSQL
    # one, as `make up` does), then runs the system checks, which query it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument(
            "--minutes", type=float, help="soak: run this long (overrides --seconds)"
        )
        parser.add_argument(
            "--warmup",
            type=float,
            help=f"seconds, not measured (default {WARMUP_SECONDS:g}; {SOAK_WARMUP_SECONDS:g} "
            "with --minutes)",
        )
        parser.add_argument("--workers", type=int, default=2, help="django-q2 workers (>= 2)")
        parser.add_argument(
            "--max-memory-growth", type=float, default=10.0, help="percent, over the run"
        )
        parser.add_argument(
            "--data-dir",
            help="ATOM_DATA_DIR of the stack (default: a new temporary directory; the database "
            "is DATABASE_URL's, else SQLite in that directory)",
        )

    def handle(self, *args, **options) -> None:
        seconds = options["minutes"] * 60 if options["minutes"] else options["seconds"]
        if seconds <= 0 or options["clients"] < 1:
            raise CommandError("--seconds/--minutes and --clients must be above 0")
        if options["workers"] < 2:
            raise CommandError("--workers: at least 2 (the load test drives several workers)")
        data_dir = options["data_dir"] or tempfile.mkdtemp(prefix="atom-loadtest-")
        try:
            result = load_test_run(
                clients=options["clients"],
                seconds=seconds,
                warmup_seconds=warmup_seconds(options["warmup"], soak=bool(options["minutes"])),
                workers=options["workers"],
                base_env={**os.environ, "ATOM_DATA_DIR": data_dir},
                say=self.stdout.write,
            )
        except LoadTestError as error:
            raise CommandError(str(error)) from None
        tally = result.tally
        self.stdout.write(
            f"\n{result.clients} clients, {seconds:g} s, {result.workers} workers: "
            f"{tally.request_count} requests, {tally.error_count} errors\n"
        )
        self.stdout.write(latency_table(result) + "\n")
        self.stdout.write(memory_table(result) + "\n")
        runs = ", ".join(
            f"{count} {status}" for status, count in sorted(result.runs_by_status.items())
        )
        self.stdout.write(f"Workflow runs started: {len(tally.run_ids)} ({runs or 'none'})")
        failures = []
        if tally.error_count:
            failures.append(f"{tally.error_count} errors: " + "; ".join(tally.error_examples))
        if result.runs_not_succeeded:
            failures.append(f"{result.runs_not_succeeded} workflow runs did not succeed")
        if result.memory_growth * 100 > options["max_memory_growth"]:
            failures.append(
                f"memory grew {result.memory_growth:.1%}, over {options['max_memory_growth']:g} %"
            )
        if failures:
            raise CommandError("; ".join(failures))
        self.stdout.write(self.style.SUCCESS("Zero errors; memory within bounds."))
