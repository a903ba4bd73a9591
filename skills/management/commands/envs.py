"""`manage.py envs list | ensure | verify | gc`: the installer's environments from the command
line."""

import json
import re
import threading
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rich.console import Console

from atom_site.events.record import Subject
from atom_site.events.terminal import progress_follow
from skills.installer.backends import InstallError
from skills.installer.bytecode import cache_bytecode_wait
from skills.installer.integrity import installs_verify
from skills.installer.jobs import install_job_for_requirements, install_job_run
from skills.installer.kernels import (
    KernelRefused,
    kernel_name,
    skill_kernel_install,
    skill_kernel_remove,
)
from skills.installer.keys import InterpreterError
from skills.installer.maintenance import environments_collect
from skills.models import Environment, InstallJob, InstallJobStatus, Skill
from skills.policy import PolicyError
from skills.requirements import RequirementError

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration_parse(text: str) -> timedelta:
    match = DURATION.match(text.strip())
    if not match:
        raise CommandError(f"--unused-for {text!r}: use a number and a unit, e.g. 7d, 12h, 30m")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def size_text(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


class Command(BaseCommand):
    help = "List, build, verify and garbage-collect skill environments."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="keys, status, sizes and uses")
        listing.add_argument("--status", choices=["pending", "building", "ready", "failed"])
        ensure = actions.add_parser("ensure", help="build (or find) the environment of a set")
        ensure.add_argument("--language", choices=["python", "node"], default="python")
        ensure.add_argument("--backend", choices=["uv", "pip", "npm", "docker"])
        ensure.add_argument("requirements", nargs="*")
        verify = actions.add_parser(
            "verify", help="check every kept lock and ready environment (exit 1 when broken)"
        )
        verify.add_argument(
            "--repair",
            action="store_true",
            help="discard broken locks and rebuild broken environments",
        )
        kernel = actions.add_parser(
            "kernel", help="install a Jupyter kernel running in a skill's environment"
        )
        kernel.add_argument("skill", help="the skill's slug")
        kernel.add_argument("--remove", action="store_true", help="remove the kernel instead")
        kernel.add_argument(
            "--prefix", help="where the kernelspec goes (default: this environment, sys.prefix)"
        )
        collect = actions.add_parser("gc", help="remove environments nobody used lately")
        collect.add_argument("--unused-for", default="7d", help="e.g. 7d (default), 12h, 30m")
        collect.add_argument("--dry-run", action="store_true")
        collect.add_argument("--keep-cache", action="store_true", help="do not prune the cache")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    def handle_list(self, *, status: str | None = None, **_) -> None:
        environments = Environment.objects.order_by("-last_used_at", "-created_at")
        if status:
            environments = environments.filter(status=status)
        self.stdout.write(
            f"{'key':<14}{'backend':<8}{'status':<10}{'size':>10}{'uses':>7}  "
            f"{'last used':<20}requirements"
        )
        for environment in environments:
            last_used = (
                environment.last_used_at.strftime("%Y-%m-%d %H:%M:%S")
                if environment.last_used_at
                else "never"
            )
            self.stdout.write(
                f"{environment.key[:12]:<14}{environment.backend:<8}{environment.status:<10}"
                f"{size_text(environment.size_bytes):>10}{environment.use_count:>7}  "
                f"{last_used:<20}{', '.join(environment.requirements) or '-'}"
            )

    def handle_ensure(
        self, *, language: str, backend: str | None, requirements: list[str], **_
    ) -> None:
        try:
            job = install_job_for_requirements(
                language=language, requirements=requirements, backend=backend
            )
            self._job_run_watched(job)
        except (RequirementError, PolicyError) as error:
            raise CommandError(f"refused: {error}") from None
        except InterpreterError as error:
            raise CommandError(str(error)) from None
        finally:
            # The build's bytecode compile, before the interpreter shuts down (bytecode.py).
            cache_bytecode_wait()
        job = InstallJob.objects.select_related("environment").get(pk=job.pk)
        if job.status != InstallJobStatus.SUCCEEDED:
            raise CommandError(f"install failed: {job.error}")
        environment = job.environment
        self.stdout.write(
            json.dumps(
                {
                    "key": environment.key,
                    "status": environment.status,
                    "location": environment.location,
                    "build_count": environment.build_count,
                    "use_count": environment.use_count,
                }
            )
        )

    def _job_run_watched(self, job: InstallJob) -> None:
        """Build in a thread; draw the job's progress and its log lines (on stderr) from its
        events meanwhile, ending with a one-line summary."""
        failure: list[BaseException] = []

        def build() -> None:
            try:
                install_job_run(job_pk=job.pk)
            except BaseException as error:  # noqa: BLE001 - raised again in the command
                failure.append(error)
            finally:
                connection.close()

        builder = threading.Thread(target=build, name="envs-ensure")
        builder.start()
        console = Console(stderr=True)
        try:
            followed = progress_follow(
                Subject("install", job.pk),
                title=f"install job {job.pk}",
                console=console,
                is_done=lambda: not builder.is_alive(),
                is_printing_lines=True,
            )
        finally:
            builder.join()
        console.print(
            f"install job {job.pk} {followed.status or 'unfinished'} in {followed.seconds:.2f} s"
            f" ({followed.log_lines} log lines)",
            markup=False,
            highlight=False,
        )
        if failure and not isinstance(failure[0], Exception):
            raise failure[0]

    def handle_verify(self, *, repair: bool, **_) -> None:
        try:
            report = installs_verify(repair=repair, log=self.stdout.write)
        finally:
            cache_bytecode_wait()
        if report.unrepaired:
            hint = "" if repair else " (run with --repair)"
            raise CommandError(report.summary + hint, returncode=1)
        self.stdout.write(report.summary)

    def handle_kernel(self, *, skill: str, remove: bool, prefix: str | None, **_) -> None:
        if remove:
            if not skill_kernel_remove(slug=skill, prefix=prefix):
                raise CommandError(f"no kernel for {skill} to remove")
            self.stdout.write(f"removed the kernel {kernel_name(skill)}")
            return
        found = Skill.objects.select_related("current_version").filter(slug=skill).first()
        if found is None:
            raise CommandError(f"no skill {skill!r}")
        try:
            kernel = skill_kernel_install(skill=found, prefix=prefix)
        except (KernelRefused, RequirementError, PolicyError) as error:
            raise CommandError(f"refused: {error}") from None
        except InstallError as error:
            raise CommandError(f"install failed: {error.message}\n{error.output}") from None
        finally:
            cache_bytecode_wait()
        self.stdout.write(
            f"installed the kernel {kernel.name} ({kernel.display_name}) in {kernel.spec_dir}: "
            f"{kernel.python}, environment {kernel.environment_key[:12]}"
        )

    def handle_gc(self, *, unused_for: str, dry_run: bool, keep_cache: bool, **_) -> None:
        report = environments_collect(
            unused_for=duration_parse(unused_for), dry_run=dry_run, prune_cache=not keep_cache
        )
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(
            f"{verb} {len(report.removed)} environment(s), freeing {size_text(report.freed_bytes)}"
        )
        for key in report.removed:
            self.stdout.write(f"  {key}")
        if report.kept_in_use:
            self.stdout.write(f"kept {len(report.kept_in_use)} in use")
        if not dry_run:
            self.stdout.write(
                f"uv cache pruned: {size_text(report.cache_freed_bytes)} freed; "
                f"{report.temp_dirs_removed} stale build dir(s) and "
                f"{len(report.orphans_removed)} orphaned dir(s) removed"
            )
            self.stdout.write(f"total freed: {size_text(report.total_freed_bytes)}")
