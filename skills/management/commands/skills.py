import signal
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from skills.catalog.bundles import bundle_export, sources_from_uploads
from skills.catalog.importer import ImportRefused, skills_import, sources_from_paths
from skills.catalog.transitions import skills_bulk_transition
from skills.catalog.watcher import SkillsWatcher
from skills.models import Skill, SkillStatus


class Command(BaseCommand):
    help = "Work with the skill catalog: import, export, watch, approve, deprecate, list."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)

        importing = commands.add_parser("import", help="import skill files, folders or a bundle")
        importing.add_argument("paths", nargs="+", type=Path)
        importing.add_argument("--approve", action="store_true", help="approve what is imported")
        importing.add_argument("--actor", help="username recorded in the history")

        exporting = commands.add_parser("export", help="write skills to a bundle (zip)")
        exporting.add_argument("--output", "-o", type=Path, required=True)
        exporting.add_argument("slugs", nargs="*", help="skills to export (default: all)")

        watching = commands.add_parser("watch", help="turn file edits into versions as they happen")
        watching.add_argument("--path", type=Path, default=None)

        for name in ("approve", "deprecate"):
            transition = commands.add_parser(name, help=f"{name} skills")
            transition.add_argument("slugs", nargs="+")
            transition.add_argument("--actor", required=True, help="a staff username")

        listing = commands.add_parser("list", help="list the catalog")
        listing.add_argument("--status", choices=SkillStatus.values)

        generating = commands.add_parser(
            "generate", help="create a synthetic catalog (benchmarks, load tests)"
        )
        generating.add_argument("--count", type=int, default=1_000, help="skills to create")
        generating.add_argument("--seed", type=int, default=0, help="random seed (repeatable)")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _import(self, *, paths: list[Path], approve: bool, actor: str | None, **_) -> None:
        user = _user(actor) if actor else None
        sources, errors = [], []
        for path in paths:
            if path.suffix == ".zip":
                try:
                    with path.open("rb") as stream:
                        found, problems = sources_from_uploads([stream])
                except OSError as error:
                    raise CommandError(f"{path}: {error.strerror}") from None
            else:
                found, problems = sources_from_paths([path])
            sources.extend(found)
            errors.extend(problems)
        try:
            report = skills_import(sources=sources, errors=errors, actor=user, approve=approve)
        except ImportRefused as refused:
            for error in refused.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"nothing imported: {len(refused.errors)} error(s) in {len(paths)} path(s)"
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"Imported {len(sources)} file(s): {report.summary()}")
        )

    def _export(self, *, output: Path, slugs: list[str], **_) -> None:
        skills = Skill.objects.select_related("current_version").order_by("slug")
        if slugs:
            skills = skills.filter(slug__in=slugs)
            missing = sorted(set(slugs) - set(skills.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"no such skill(s): {', '.join(missing)}")
        with output.open("wb") as stream:
            count = bundle_export(skills, stream)
        self.stdout.write(self.style.SUCCESS(f"Exported {count} skill(s) to {output}"))

    def _watch(self, *, path: Path | None, **_) -> None:
        root = (path or settings.ATOM_SKILLS_DIR).resolve()

        def announce_ready() -> None:  # once the observer runs: no save is missed after this
            self.stdout.write(f"Watching {root} for skill edits.")
            sys.stdout.flush()

        watcher = SkillsWatcher(
            root, debounce=settings.ATOM_WATCH_DEBOUNCE_MS / 1000, on_ready=announce_ready
        )
        signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
        signal.signal(signal.SIGINT, lambda *_: watcher.stop())
        watcher.run()
        self.stdout.write("Watcher stopped.")

    def _approve(self, *, slugs: list[str], actor: str, **_) -> None:
        self._transition(slugs, actor, approve=True)

    def _deprecate(self, *, slugs: list[str], actor: str, **_) -> None:
        self._transition(slugs, actor, approve=False)

    def _transition(self, slugs: list[str], actor: str, *, approve: bool) -> None:
        user = _user(actor)
        if not user.is_staff:
            raise CommandError(f"{actor!r} is not a staff user")
        skills = list(Skill.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {skill.slug for skill in skills})
        if missing:
            raise CommandError(f"no such skill(s): {', '.join(missing)}")
        changed, skipped = skills_bulk_transition(skills=skills, actor=user, approve=approve)
        verb = "approved" if approve else "deprecated"
        self.stdout.write(self.style.SUCCESS(f"{changed} {verb}, {skipped} already {verb}"))

    def _generate(self, *, count: int, seed: int, **_) -> None:
        call_command("skills_generate", count=count, seed=seed, stdout=self.stdout)

    def _list(self, *, status: str | None, **_) -> None:
        skills = Skill.objects.select_related("current_version").order_by("category", "slug")
        if status:
            skills = skills.filter(status=status)
        rows = [
            (
                s.slug,
                s.current_version.version if s.current_version else "-",
                s.category,
                s.type,
                s.status,
            )
            for s in skills
        ]
        header = ("skill", "version", "category", "type", "status")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            )
        self.stdout.write(f"{len(rows)} skill(s)")


def _user(username: str):
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user named {username!r}") from None
