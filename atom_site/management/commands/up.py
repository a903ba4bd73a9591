import signal
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from atom_site.accounts import admin_ensure
from atom_site.cache import file_cache_leftovers_remove
from atom_site.demo import demo_load
from atom_site.env import env_int, env_str
from atom_site.pools import postgresql_databases_check
from atom_site.stack import (
    PortTakenError,
    first_exited,
    health_wait,
    port_check_free,
    processes_start,
    processes_stop,
    stack_processes,
)
from perf.schedules import schedules_ensure
from skills.installer.schedules import schedules_ensure as install_schedules_ensure
from workflows.library import workflows_demo_load
from workflows.schedules import schedules_ensure as workflow_schedules_ensure


class Command(BaseCommand):
    help = "Migrate, create the admin, load the demo catalog, then run web, workers and watcher."
    # The system checks query the database: they run after the check of the database itself.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=env_str("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=env_int("PORT", 8000, minimum=1))
        parser.add_argument("--no-demo", action="store_true", help="skip the demo catalog")
        parser.add_argument(
            "--skip-checks",
            action="store_true",
            help="skip the system checks (run after the "
            "database is checked, so Django does not add this option itself)",
        )
        parser.add_argument("--no-watcher", action="store_true", help="skip the file watcher")
        parser.add_argument("--health-timeout", type=float, default=60.0)

    def handle(self, *args, host: str, port: int, **options) -> None:
        try:
            port_check_free(host, port)
        except PortTakenError as error:
            raise CommandError(str(error)) from None

        try:
            for name in postgresql_databases_check(create_missing=True):
                self.stdout.write(f"Created the PostgreSQL database {name!r} (it did not exist).")
        except DatabaseError as error:
            raise CommandError(f"DATABASE_URL: {error}") from None
        if not options["skip_checks"]:
            self.check()
        self._prepare(skip_demo=options["no_demo"])
        processes = stack_processes(host=host, port=port, with_watcher=not options["no_watcher"])
        stopping = {"requested": False}

        def request_stop(signum, frame) -> None:
            stopping["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        processes_start(processes)
        try:
            self._announce(host, port, processes, options["health_timeout"], stopping)
            exited = self._supervise(processes, stopping)
        finally:
            self.stdout.write("Stopping web, workers and watcher…")
            processes_stop(processes)
        if exited is not None:
            raise CommandError(f"{exited.name} exited with code {exited.popen.returncode}")
        self.stdout.write(self.style.SUCCESS("Atom stopped; no process left behind."))

    def _prepare(self, *, skip_demo: bool) -> None:
        self.stdout.write("Applying migrations…")
        call_command("migrate", interactive=False, verbosity=0)  # the channel layer's file too
        call_command("createcachetable")  # the cache's fallback while Redis does not answer
        cache_dir = settings.ATOM_DATA_DIR / "cache"
        if removed := file_cache_leftovers_remove(cache_dir):
            self.stdout.write(
                f"Removed {removed} entries the former file cache left in {cache_dir}."
            )
        account = admin_ensure(
            username=settings.ATOM_ADMIN_USERNAME,
            email=settings.ATOM_ADMIN_EMAIL,
            password=settings.ATOM_ADMIN_PASSWORD,
        )
        if account.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin {account.username!r} with password "
                    f"{account.generated_password!r} (shown once; change it with "
                    f"`manage.py changepassword {account.username}`)."
                )
            )
        elif account.created:
            self.stdout.write(f"Created admin {account.username!r} from ATOM_ADMIN_PASSWORD.")
        schedules_ensure()  # perf: resource sampling, regression checks, hourly rollups
        workflow_schedules_ensure()  # the reaper of steps whose worker died, run timeouts
        install_schedules_ensure()  # the reaper of install jobs whose worker died
        if not skip_demo:
            self.stdout.write(demo_load())
            self.stdout.write(workflows_demo_load())  # built from the demo catalog above

    def _announce(self, host, port, processes, health_timeout, stopping) -> None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        base = f"http://{shown_host}:{port}"
        answer = health_wait(
            f"{base}/api/health",
            timeout=health_timeout,
            stop=lambda: stopping["requested"] or first_exited(processes) is not None,
        )
        if answer is not None and answer.get("status") == "ok":
            self.stdout.write(self.style.SUCCESS("Atom is up; every health check is green."))
        elif answer is not None:
            self.stdout.write(self.style.ERROR(f"Health is failing: {answer.get('failed')}"))
        self.stdout.write(
            f"  Admin        {base}/admin/\n"
            f"  Marketplace  {base}/marketplace/\n"
            f"  API docs     {base}/api/docs\n"
            f"  Health       {base}/api/health\n"
            "Press Ctrl-C to stop."
        )

    @staticmethod
    def _supervise(processes, stopping):
        while not stopping["requested"]:
            exited = first_exited(processes)
            if exited is not None:
                return exited
            time.sleep(0.2)
        return None
