import json
import queue
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rich.console import Console

from atom_site.events.record import Subject
from atom_site.events.terminal import progress_follow
from workflows.analysis import workflow_analyze
from workflows.engine import listener_add, listener_remove, run_start
from workflows.errors import DefinitionInvalid, WorkflowError
from workflows.library import (
    WorkflowImportRefused,
    definition_load,
    sources_from_paths,
    workflow_export,
    workflows_import,
)
from workflows.models import Workflow, WorkflowRun
from workflows.validation import definition_validate


class Command(BaseCommand):
    help = "Work with workflows: import, list, validate, export, run."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        importing = commands.add_parser("import", help="import workflow files (all or nothing)")
        importing.add_argument("paths", nargs="*", type=Path, help="default: ATOM_WORKFLOWS_DIR")
        importing.add_argument("--actor", help="username recorded as the versions' author")
        commands.add_parser("list", help="list the workflows")
        validating = commands.add_parser(
            "validate", help="validate files, or stored workflows by slug, and predict their runs"
        )
        validating.add_argument("targets", nargs="+", help="files, folders or slugs")
        exporting = commands.add_parser("export", help="write workflows as YAML files")
        exporting.add_argument("--output", "-o", type=Path, required=True, help="a folder")
        exporting.add_argument("slugs", nargs="*", help="default: every workflow")
        running = commands.add_parser("run", help="run a workflow and follow it to the end")
        running.add_argument("slug")
        running.add_argument("--inputs", default="{}", help="the inputs as a JSON object")
        running.add_argument(
            "--here",
            action="store_true",
            help="carry the steps out in this process (no worker cluster needed)",
        )
        running.add_argument(
            "--wait", type=float, default=3600, help="seconds to follow the run (default 3600)"
        )
        running.add_argument(
            "--watch",
            action="store_true",
            help="draw a live progress bar (on stderr) from the run's events",
        )

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _import(self, *, paths: list[Path], actor: str | None, **_) -> None:
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"no user {actor!r}")
        paths = paths or [Path(settings.ATOM_WORKFLOWS_DIR)]
        sources, errors = sources_from_paths(paths)
        try:
            report = workflows_import(sources=sources, errors=errors, actor=user)
        except WorkflowImportRefused as refused:
            for error in refused.errors:
                self.stderr.write(str(error))
            raise CommandError(f"nothing imported: {len(refused.errors)} error(s)") from None
        self.stdout.write(
            self.style.SUCCESS(f"Imported {len(sources)} file(s): {report.summary()}")
        )

    def _list(self, **_) -> None:
        rows = [
            (w.slug, w.current_version.version if w.current_version else "-",
             str(w.current_version.step_count if w.current_version else 0), w.status, w.name)
            for w in Workflow.objects.select_related("current_version").order_by("slug")
        ]  # fmt: skip
        header = ("workflow", "version", "steps", "status", "name")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        self.stdout.write(f"{len(rows)} workflow(s)")

    def _validate(self, *, targets: list[str], **_) -> None:
        failed = 0
        for target in targets:
            for name, definition, problems in self._definitions(target):
                if problems:
                    failed += 1
                    for error in problems:
                        self.stderr.write(str(error))
                    continue
                try:
                    validated = definition_validate(definition=definition)
                except DefinitionInvalid as invalid:
                    failed += 1
                    for error in invalid.errors:
                        self.stderr.write(f"{name}: {error}")
                    continue
                analysis = workflow_analyze(validated=validated)
                p50 = analysis.estimate["p50_seconds"]
                estimate = "no data" if p50 is None else f"p50 {p50:.3f} s"
                self.stdout.write(
                    f"{name}: valid; {len(validated.step_ids)} steps, depth {analysis.depth}, "
                    f"width {analysis.width}, critical path {' → '.join(analysis.critical_path)}"
                    f", {estimate}, {len(analysis.environments)} environment(s) to build, "
                    f"{len(analysis.conflicts)} conflict(s)"
                )
        if failed:
            raise CommandError(f"{failed} invalid workflow(s)")

    def _definitions(self, target: str):
        path = Path(target)
        if path.exists():
            sources, errors = sources_from_paths([path])
            if errors:
                yield target, None, errors
            for source in sources:
                try:
                    definition, _ = definition_load(source)
                except DefinitionInvalid as invalid:
                    yield source.name, None, invalid.errors
                    continue
                yield source.name, definition, []
            return
        workflow = Workflow.objects.select_related("current_version").filter(slug=target).first()
        if workflow is None or workflow.current_version is None:
            raise CommandError(f"no file and no workflow named {target!r}")
        yield target, workflow.current_version.definition, []

    def _export(self, *, output: Path, slugs: list[str], **_) -> None:
        workflows = Workflow.objects.select_related("current_version").order_by("slug")
        if slugs:
            workflows = workflows.filter(slug__in=slugs)
            missing = sorted(set(slugs) - {w.slug for w in workflows})
            if missing:
                raise CommandError(f"no such workflow(s): {', '.join(missing)}")
        output.mkdir(parents=True, exist_ok=True)
        count = 0
        for workflow in workflows:
            (output / f"{workflow.slug}.yaml").write_text(workflow_export(workflow=workflow))
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Exported {count} workflow(s) to {output}"))

    def _run(
        self, *, slug: str, inputs: str, here: bool, wait: float, watch: bool = False, **_
    ) -> None:
        workflow = Workflow.objects.select_related("current_version").filter(slug=slug).first()
        if workflow is None:
            raise CommandError(f"no workflow {slug!r}")
        try:
            values = json.loads(inputs)
        except json.JSONDecodeError as error:
            raise CommandError(f"--inputs is not JSON: {error}") from None
        if watch:
            self._run_watched(workflow, values, here=here, wait=wait)
            return
        from django_q.conf import Conf

        was_sync = Conf.SYNC
        if here:
            Conf.SYNC = True  # each step task runs at once, in this process
            listener_add(self._progress_event)
        started = time.monotonic()
        try:
            run = run_start(workflow, values)
        except WorkflowError as refused:
            raise CommandError(refused.message) from None
        finally:
            Conf.SYNC = was_sync
            listener_remove(self._progress_event)
        self.stdout.write(f"run {run.pk} of {slug} started ({run.ws_url})")
        run = self._follow(run, deadline=started + wait, quiet=here)
        self.stdout.write(self._summary(run, time.monotonic() - started))
        if run.status != "succeeded":
            raise CommandError(f"run {run.pk} {run.status}: {run.error_message}")

    def _run_watched(self, workflow: Workflow, values, *, here: bool, wait: float) -> None:
        """Start the run in a thread (with `--here` its steps run inside `run_start`) and draw
        its bar from its events; the run's id comes with its first announcement."""
        from django_q.conf import Conf

        started = time.monotonic()
        first: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        outcome: dict[str, object] = {}

        def announced(event: dict) -> None:
            first.put(event["run"])

        def start() -> None:
            try:
                outcome["run"] = run_start(workflow, values)
            except WorkflowError as refused:
                outcome["error"] = refused
            finally:
                first.put(None)
                connection.close()

        was_sync = Conf.SYNC
        Conf.SYNC = was_sync or here
        listener_add(announced)
        starter = threading.Thread(target=start, name="workflow-run-start")
        starter.start()
        try:
            run_pk = first.get()
            if run_pk is None:
                starter.join()
                if "error" in outcome:
                    raise CommandError(outcome["error"].message)
                run_pk = outcome["run"].pk
            self.stdout.write(f"run {run_pk} of {workflow.slug} started (/runs/{run_pk}/)")
            total = workflow.current_version.step_count if workflow.current_version else None
            progress_follow(
                Subject("run", run_pk),
                title=f"run {run_pk} of {workflow.slug}",
                total=total,
                console=Console(stderr=True),
                timeout=wait,
            )
        finally:
            starter.join()
            listener_remove(announced)
            Conf.SYNC = was_sync
        if "error" in outcome:
            raise CommandError(outcome["error"].message)
        run = WorkflowRun.objects.get(pk=run_pk)
        self.stdout.write(self._summary(run, time.monotonic() - started))
        if run.status != "succeeded":
            raise CommandError(f"run {run.pk} {run.status}: {run.error_message}")

    def _progress_event(self, event: dict) -> None:
        if event.get("event") == "step":
            cached = " (cached)" if event.get("is_cached") else ""
            error = f": {event['error']}" if event.get("error") else ""
            self.stdout.write(
                f"  {event['step']}: {event['status']}{cached} (attempt {event['attempt']}){error}"
            )

    def _follow(self, run: WorkflowRun, *, deadline: float, quiet: bool) -> WorkflowRun:
        seen: dict[str, tuple[str, int]] = {}
        while True:
            run.refresh_from_db()
            if not quiet:
                for step in run.steps.order_by("index").only("step_id", "status", "attempt"):
                    state = (step.status, step.attempt)
                    if seen.get(step.step_id) != state and step.status != "pending":
                        seen[step.step_id] = state
                        self.stdout.write(
                            f"  {step.step_id}: {step.status} (attempt {step.attempt})"
                        )
            if run.is_finished or time.monotonic() > deadline:
                return run
            time.sleep(0.1)

    @staticmethod
    def _summary(run: WorkflowRun, seconds: float) -> str:
        counts: dict[str, int] = {}
        cached = 0
        for status, is_cached in run.steps.values_list("status", "is_cached"):
            counts[status] = counts.get(status, 0) + 1
            cached += is_cached
        parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        return (
            f"run {run.pk} {run.status} in {seconds:.2f} s: {sum(counts.values())} steps "
            f"({parts}; {cached} cached)"
        )
