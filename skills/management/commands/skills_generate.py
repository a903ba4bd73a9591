"""`manage.py skills_generate --count 100000`: a realistic synthetic catalog, in bulk.

For benchmarks and load tests of the marketplace: varied names, descriptions, tags,
categories, types, languages and popularity, one version each, written with bulk inserts in
one transaction. The marketplace cache is invalidated once, after the commit.
"""

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Max, Model
from django.utils import timezone

from skills.announcements import catalog_generation_bump
from skills.models import Skill, SkillLanguage, SkillStatus, SkillType, SkillVersion
from skills.search import SQLITE_SEARCH_TRIGGER_PREFIX, search_index_rebuild

BATCH = 5_000

LIBRARIES = {
    "pandas": "data",
    "numpy": "math",
    "scipy": "math",
    "polars": "data",
    "requests": "web",
    "httpx": "web",
    "beautifulsoup4": "web",
    "lxml": "documents",
    "pyyaml": "config",
    "pillow": "images",
    "opencv-python": "images",
    "scikit-learn": "ml",
    "nltk": "text",
    "spacy": "text",
    "regex": "text",
    "python-dateutil": "time",
    "pytz": "time",
    "openpyxl": "office",
    "python-docx": "office",
    "pypdf": "documents",
    "sqlalchemy": "databases",
    "duckdb": "databases",
    "boto3": "cloud",
    "jinja2": "templates",
    "markdown": "documents",
    "cryptography": "security",
    "pydantic": "validation",
    "jsonschema": "validation",
    "matplotlib": "charts",
    "networkx": "graphs",
}
NODE_LIBRARIES = {"lodash": "data", "axios": "web", "cheerio": "web", "dayjs": "time"}
VERBS = {
    SkillType.TRANSFORM: ["convert", "normalize", "merge", "reshape", "clean", "resize"],
    SkillType.EXTRACT: ["extract", "parse", "scrape", "read", "pull", "split"],
    SkillType.ANALYZE: ["profile", "summarize", "score", "classify", "compare", "detect"],
    SkillType.GENERATE: ["render", "draft", "build", "compose", "plot", "export"],
    SkillType.FETCH: ["fetch", "download", "sync", "poll", "query", "crawl"],
    SkillType.VALIDATE: ["validate", "check", "lint", "verify", "audit", "guard"],
    SkillType.UTILITY: ["hash", "format", "sort", "dedupe", "count", "encode"],
}
NOUNS = [
    "tables", "rows", "columns", "invoices", "receipts", "emails", "logs", "events", "images",
    "thumbnails", "pages", "links", "feeds", "reports", "charts", "dates", "addresses",
    "names", "prices", "orders", "tickets", "metrics", "sentences", "keywords", "documents",
    "schemas", "configs", "records", "graphs", "files",
]  # fmt: skip
ADJECTIVES = ["fast", "robust", "simple", "batch", "streaming", "incremental", "strict", "lenient"]
TAGS = [
    "etl", "reporting", "finance", "marketing", "ops", "security", "ml", "nlp", "vision",
    "scraping", "cleanup", "compliance", "devops", "analytics", "office", "automation",
    "monitoring", "search", "geo", "time-series",
]  # fmt: skip
SOURCE = '''def run(items: list | None = None) -> dict:
    """{description}"""
    return {{"count": len(items or [])}}
'''


def skills_generate(
    *,
    count: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Create `count` synthetic skills, each with one version, and return how many.

    Rows go in with `executemany` and ids chosen here (one past the largest of each table), so
    a skill can name its version as it is written; the sequences are reset afterwards. Run it
    while nothing else creates skills.
    """
    rng = random.Random(seed)
    now = timezone.now()
    created = 0
    if connection.vendor == "sqlite":
        # A quarter of a GiB of page cache for this connection: the dozen index B-trees of
        # a large catalog then stay in memory while rows go in (2 MiB by default).
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")
    with transaction.atomic(), connection.cursor() as cursor, _search_indexes_suspended(cursor):
        skill_id = (Skill.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
        version_id = (SkillVersion.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
        skill_insert, skill_columns = _insert_sql(Skill)
        version_insert, version_columns = _insert_sql(SkillVersion)
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            skills, versions = [], []
            for n in range(size):
                skill = _skill(rng, skill_id + start + n)
                skill.pk, skill.created_at, skill.updated_at = skill_id + start + n, now, now
                version = _version(rng, skill)
                version.pk, version.created_at = version_id + start + n, now
                skill.current_version_id = version.pk
                skills.append(skill)
                versions.append(version)
            cursor.executemany(skill_insert, [_row(s, skill_columns) for s in skills])
            cursor.executemany(version_insert, [_row(v, version_columns) for v in versions])
            created += size
            if progress:
                progress(created, count)
        for statement in connection.ops.sequence_reset_sql(no_style(), [Skill, SkillVersion]):
            cursor.execute(statement)
        transaction.on_commit(catalog_generation_bump)
    # Fresh statistics: without them the planners pick poor indexes for a table that grew
    # a hundredfold in one go.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE skills_skill")
        cursor.execute("ANALYZE skills_skillversion")
    return created


@contextmanager
def _search_indexes_suspended(cursor: CursorWrapper) -> Iterator[None]:
    """On SQLite, write without the full-text triggers and rebuild the FTS tables once after
    (from the triggers' own definitions, inside the caller's transaction): one bulk rebuild
    costs a fraction of 100,000 row-by-row index updates. PostgreSQL keeps its GIN indexes:
    they cannot be rebuilt while the transaction's deferred foreign-key checks are pending."""
    if connection.vendor != "sqlite":
        yield
        return
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
        [SQLITE_SEARCH_TRIGGER_PREFIX + "%"],
    )
    definitions = cursor.fetchall()
    for name, _ in definitions:
        cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
    yield
    for _, sql in definitions:
        cursor.execute(sql)
    search_index_rebuild()


def _insert_sql(model: type[Model]) -> tuple[str, list[Field]]:
    columns = [field for field in model._meta.concrete_fields if not field.generated]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})", columns


def _row(instance: Model, columns: list[Field]) -> list:
    return [
        field.get_db_prep_save(field.pre_save(instance, False), connection) for field in columns
    ]


def _skill(rng: random.Random, number: int) -> Skill:
    kind = rng.choice(list(VERBS))
    is_node = rng.random() < 0.08
    library, category = rng.choice(list((NODE_LIBRARIES if is_node else LIBRARIES).items()))
    verb, noun = rng.choice(VERBS[kind]), rng.choice(NOUNS)
    slug = f"{library}-{verb}-{noun}-{number:x}"[:64]
    adjective = rng.choice(ADJECTIVES)
    description = (
        f"{verb.capitalize()} {noun} with {library}: a {adjective} {kind.label.lower()} step "
        f"for {rng.choice(TAGS)} pipelines. Handles {rng.choice(NOUNS)} and "
        f"{rng.choice(NOUNS)}, reports what it skipped."
    )
    status = rng.choices(
        [SkillStatus.APPROVED, SkillStatus.DRAFT, SkillStatus.DEPRECATED], weights=[90, 7, 3]
    )[0]
    return Skill(
        slug=slug,
        category=category,
        type=kind,
        status=status,
        language=SkillLanguage.NODE if is_node else SkillLanguage.PYTHON,
        description=description,
        tags=rng.sample(TAGS, rng.randint(1, 4)),
        content_hash=hashlib.sha256(slug.encode()).hexdigest(),
        # Popularity follows a long tail, as real catalogs do.
        install_count=int(rng.paretovariate(1.2)) - 1,
        run_count=int(rng.paretovariate(1.1) * 10) - 10,
    )


def _version(rng: random.Random, skill: Skill) -> SkillVersion:
    library = skill.slug.split("-")[0]
    libraries = NODE_LIBRARIES if skill.language == SkillLanguage.NODE else LIBRARIES
    extra = rng.sample(list(libraries), rng.randint(0, 2))
    requirements = sorted({library, *extra} & set(libraries))
    if skill.language == SkillLanguage.NODE:
        requirements = [f"{name}@^1" for name in requirements]
    return SkillVersion(
        skill=skill,
        version=f"1.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
        content_hash=skill.content_hash,
        filename=f"{skill.slug}.{'mjs' if skill.language == SkillLanguage.NODE else 'py'}",
        source=SOURCE.format(description=skill.description),
        requirements=requirements,
        requires_python=">=3.12" if skill.language == SkillLanguage.PYTHON else "",
        metadata={"generated": True},
    )


class Command(BaseCommand):
    help = "Generate a synthetic catalog for benchmarks and load tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=1_000, help="skills to create")
        parser.add_argument("--seed", type=int, default=0, help="random seed (repeatable)")

    def handle(self, *args, count: int, seed: int, **options) -> None:
        if not 1 <= count <= 10_000_000:
            raise CommandError("--count: must be between 1 and 10,000,000")
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            width = 30
            filled = width * done // total
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} skills",
                ending="",
            )
            self.stdout.flush()

        created = skills_generate(count=count, seed=seed, progress=progress)
        seconds = time.perf_counter() - started
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"generated {created:,} skills ({created:,} versions) in {seconds:.1f} s "
                f"({created / seconds:,.0f} skills/s); "
                f"catalog now {Skill.objects.count():,} skills"
            )
        )
