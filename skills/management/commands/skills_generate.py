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

from skills.catalog.announcements import catalog_generation_bump
from skills.marketplace.search import SQLITE_SEARCH_TRIGGER_PREFIX, search_index_rebuild
from skills.models import Skill, SkillLanguage, SkillStatus, SkillType, SkillVersion

BATCH = 5_000

# Content is drawn the way real catalogs are written: a few libraries, objects and tags are
# everywhere and most are rare (Zipf-like weights, by rank), descriptions come from several
# sentence shapes with optional details, and no clause is in every description, so the
# full-text index sees realistic document frequencies (the commonest tags and words in a tenth
# to a quarter of the skills, pandas in an eighth, most words in well under one percent).

# By popularity; each library's category is the skill's category.
LIBRARIES = [
    ("pandas", "data"), ("requests", "web"), ("numpy", "math"), ("pillow", "images"),
    ("beautifulsoup4", "web"), ("pydantic", "validation"), ("openpyxl", "office"),
    ("python-dateutil", "time"), ("httpx", "web"), ("pyyaml", "config"), ("lxml", "documents"),
    ("scikit-learn", "ml"), ("matplotlib", "charts"), ("polars", "data"), ("regex", "text"),
    ("jsonschema", "validation"), ("scipy", "math"), ("opencv-python", "images"),
    ("pypdf", "documents"), ("sqlalchemy", "databases"), ("nltk", "text"), ("boto3", "cloud"),
    ("jinja2", "templates"), ("cryptography", "security"), ("python-docx", "office"),
    ("duckdb", "databases"), ("spacy", "text"), ("markdown", "documents"), ("pytz", "time"),
    ("networkx", "graphs"), ("feedparser", "web"), ("xlsxwriter", "office"),
    ("rapidfuzz", "text"), ("shapely", "geo"), ("pyproj", "geo"), ("qrcode", "images"),
    ("python-slugify", "text"), ("tabulate", "data"), ("pyarrow", "data"),
    ("phonenumbers", "validation"), ("babel", "text"), ("reportlab", "documents"),
    ("icalendar", "time"), ("paramiko", "cloud"), ("pymupdf", "documents"),
]  # fmt: skip
NODE_LIBRARIES = [
    ("lodash", "data"), ("axios", "web"), ("dayjs", "time"), ("cheerio", "web"),
    ("zod", "validation"), ("sharp", "images"), ("marked", "documents"), ("papaparse", "data"),
]  # fmt: skip
VERBS = {
    SkillType.TRANSFORM: [
        "convert", "clean", "normalize", "merge", "reshape", "resize", "translate",
        "flatten", "pivot", "crop", "rename", "trim", "compress", "redact",
    ],
    SkillType.EXTRACT: [
        "extract", "parse", "read", "scrape", "split", "pull", "capture", "tokenize",
        "decode", "unpack", "harvest", "mine",
    ],
    SkillType.ANALYZE: [
        "summarize", "profile", "classify", "detect", "compare", "score", "cluster",
        "forecast", "rank", "measure", "inspect", "correlate",
    ],
    SkillType.GENERATE: [
        "render", "build", "draft", "export", "plot", "compose", "generate", "fill",
        "design", "sketch", "assemble", "print",
    ],
    SkillType.FETCH: [
        "fetch", "download", "sync", "query", "poll", "crawl", "mirror", "subscribe",
        "stream", "collect", "look up", "watch",
    ],
    SkillType.VALIDATE: [
        "validate", "check", "verify", "lint", "audit", "guard", "sanitize", "enforce",
        "test", "confirm", "screen", "approve",
    ],
    SkillType.UTILITY: [
        "format", "sort", "dedupe", "count", "hash", "encode", "sample", "shuffle", "group",
        "index", "cache", "batch",
    ],
}  # fmt: skip
NOUNS = [
    "files", "tables", "records", "documents", "images", "dates", "emails", "pages", "logs",
    "invoices", "text", "urls", "addresses", "names", "prices", "events", "orders",
    "spreadsheets", "reports", "schemas", "rows", "columns", "photos", "receipts", "links",
    "configs", "metrics", "contacts", "sentences", "keywords", "tickets", "charts",
    "feeds", "timestamps", "products", "customers", "transactions", "comments", "reviews",
    "headlines", "articles", "forms", "labels", "thumbnails", "payloads", "messages",
    "coordinates", "routes", "phone numbers", "currencies", "units", "measurements",
    "surveys", "responses", "calendars", "schedules", "certificates", "passwords", "tokens",
    "sessions", "graphs", "nodes", "matrices", "vectors", "embeddings", "datasets",
    "samples", "outliers", "duplicates", "templates", "slides", "notes", "recipes",
    "playlists", "transcripts", "subtitles", "barcodes", "scans", "signatures", "contracts",
    "policies", "leads", "budgets", "expenses", "salaries", "shipments", "inventories",
    "sensors", "alerts", "incidents", "backups", "archives", "manifests", "licenses",
]  # fmt: skip
ADJECTIVES = [
    "fast", "simple", "robust", "lightweight", "streaming", "incremental", "strict",
    "lenient", "batch", "parallel", "lazy", "safe", "tiny", "configurable", "offline",
    "accurate", "resilient", "minimal", "portable", "typed",
]  # fmt: skip
FORMATS = [
    "CSV", "JSON", "Excel", "PDF", "XML", "YAML", "HTML", "Markdown", "Parquet", "PNG",
    "JPEG", "SVG", "TSV", "iCal", "GeoJSON", "SQL",
]  # fmt: skip
AUDIENCES = [
    "analysts", "finance teams", "support desks", "data engineers", "marketers",
    "researchers", "ops teams", "recruiters", "accountants", "editors", "sales teams",
    "auditors", "teachers", "logistics teams", "developers", "clinics",
]  # fmt: skip
TAGS = [
    "etl", "automation", "analytics", "cleanup", "finance", "scraping", "office", "nlp",
    "reporting", "vision", "monitoring", "marketing", "ops", "security", "compliance", "ml",
    "search", "geo", "time-series", "devops", "hr", "sales", "healthcare", "education",
    "logistics", "legal", "media", "research", "ecommerce", "support"
]  # fmt: skip
# Sentence shapes: {verb} {noun} {noun2} {library} {adjective} {format} {format2} {audience}.
OPENINGS = [
    "{Verb} {noun} with {library}.",
    "{Verb} {noun} from {format} using {library}.",
    "A {adjective} way to {verb} {noun}, built on {library}.",
    "Uses {library} to {verb} {noun} for {audience}.",
    "{Verb} {noun} into {format2}.",
    "Takes {noun} and returns {noun2}, via {library}.",
    "{Adjective} {library} skill: {verb} {noun}.",
    "Helps {audience} {verb} {noun}.",
    "{Verb} {noun} and {noun2} in one step ({library}).",
    "Given {format} {noun}, {verb} them with {library}.",
]
DETAILS = [
    "Handles {noun} and {noun2}.",
    "Works offline.",
    "Streams large inputs.",
    "Returns a summary of the {noun}.",
    "Keeps the original order.",
    "Supports {format} and {format2}.",
    "Made for {audience}.",
    "Retries on timeouts.",
    "Skips malformed {noun} and reports them.",
    "Safe to run twice.",
    "Respects rate limits.",
    "Configurable thresholds.",
    "Outputs {format2}.",
    "Reports what it skipped.",
    "Tested on real {noun}.",
    "No network needed.",
    "Good for {adjective} pipelines.",
    "Logs every step.",
]


def _cumulative_zipf(count: int, exponent: float) -> list[float]:
    """Cumulative weights 1/rank^exponent, for `random.choices(cum_weights=…)`."""
    total, cumulative = 0.0, []
    for rank in range(1, count + 1):
        total += 1 / rank**exponent
        cumulative.append(total)
    return cumulative


class _Picker:
    """Zipf-weighted choices from a list ordered by popularity (weights computed once)."""

    def __init__(self, items: list, exponent: float) -> None:
        self.items = items
        self.cumulative = _cumulative_zipf(len(items), exponent)

    def __call__(self, rng: random.Random, k: int = 1) -> list:
        return rng.choices(self.items, cum_weights=self.cumulative, k=k)

    def one(self, rng: random.Random):
        return self(rng)[0]


PYTHON_LIBRARY = _Picker(LIBRARIES, 0.75)
NODE_LIBRARY = _Picker(NODE_LIBRARIES, 0.9)
NOUN = _Picker(NOUNS, 0.75)
ADJECTIVE = _Picker(ADJECTIVES, 0.8)
FORMAT = _Picker(FORMATS, 0.9)
AUDIENCE = _Picker(AUDIENCES, 0.8)
TAG = _Picker(TAGS, 0.6)
DETAIL = _Picker(DETAILS, 0.3)
VERB = {kind: _Picker(verbs, 0.8) for kind, verbs in VERBS.items()}
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
                skill, library = _skill(rng, skill_id + start + n)
                skill.pk, skill.created_at, skill.updated_at = skill_id + start + n, now, now
                version = _version(rng, skill, library)
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


def _skill(rng: random.Random, number: int) -> tuple[Skill, str]:
    """A skill, and the library it is built on."""
    kind = rng.choice(list(VERBS))
    is_node = rng.random() < 0.08
    library, category = (NODE_LIBRARY if is_node else PYTHON_LIBRARY).one(rng)
    verb, noun = VERB[kind].one(rng), NOUN.one(rng)
    slug = f"{library}-{verb.replace(' ', '-')}-{noun.replace(' ', '-')}-{number:x}"[:64]
    description = _description(rng, verb=verb, noun=noun, library=library)
    status = rng.choices(
        [SkillStatus.APPROVED, SkillStatus.DRAFT, SkillStatus.DEPRECATED], weights=[90, 7, 3]
    )[0]
    skill = Skill(
        slug=slug,
        category=category,
        type=kind,
        status=status,
        language=SkillLanguage.NODE if is_node else SkillLanguage.PYTHON,
        description=description,
        tags=sorted(set(TAG(rng, k=rng.randint(1, 4))), key=TAGS.index),
        content_hash=hashlib.sha256(slug.encode()).hexdigest(),
        # Popularity follows a long tail, as real catalogs do.
        install_count=int(rng.paretovariate(1.2)) - 1,
        run_count=int(rng.paretovariate(1.1) * 10) - 10,
    )
    return skill, library


def _description(rng: random.Random, *, verb: str, noun: str, library: str) -> str:
    """An opening sentence of one of several shapes, and zero to two details."""
    noun2 = NOUN.one(rng)
    adjective = ADJECTIVE.one(rng)
    format_, format2 = FORMAT(rng, k=2)
    slots = {
        "verb": verb,
        "Verb": verb.capitalize(),
        "noun": noun,
        "noun2": noun2 if noun2 != noun else NOUN.one(rng),
        "library": library,
        "adjective": adjective,
        "Adjective": adjective.capitalize(),
        "format": format_,
        "format2": format2,
        "audience": AUDIENCE.one(rng),
    }
    sentences = [rng.choice(OPENINGS)]
    details = rng.choices([0, 1, 2], weights=[3, 5, 2])[0]
    sentences += dict.fromkeys(DETAIL(rng, k=details))
    return " ".join(sentence.format(**slots) for sentence in sentences)


def _version(rng: random.Random, skill: Skill, library: str) -> SkillVersion:
    picker = NODE_LIBRARY if skill.language == SkillLanguage.NODE else PYTHON_LIBRARY
    extra = {name for name, _ in picker(rng, k=rng.randint(0, 2))}
    requirements = sorted({library, *extra})
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
