"""Atom's settings: every knob comes from the environment (see README, "Configuration")."""

import socket
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from atom_site.config import (
    SQLITE_ENGINE,
    caches_for,
    certificate_file_default,
    channel_layers_for,
    database_from_url,
    redis_url_checked,
    secret_key_load_or_create,
    sqlite_database,
)
from atom_site.env import env_bool, env_float, env_int, env_list, env_path, env_rate, env_str
from atom_site.sqlite_setup import sqlite_memory_statistics_off

BASE_DIR = Path(__file__).resolve().parent.parent

ATOM_DATA_DIR = env_path("ATOM_DATA_DIR", BASE_DIR / "data")
ATOM_SKILLS_DIR = env_path("ATOM_SKILLS_DIR", BASE_DIR / "skills_library")
ATOM_HOST_NAME = env_str("ATOM_HOST_NAME", socket.gethostname())

DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off")
    SECRET_KEY = secret_key_load_or_create(ATOM_DATA_DIR / "secret_key")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "channels_lite",
    "django_q",
    "ninja",
    "atom_site",
    "skills",
    "workflows",
    "perf",
]

MIDDLEWARE = [
    "atom_site.middleware.SentWritesAwaitedMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "atom_site.urls"
ASGI_APPLICATION = "atom_site.asgi.application"
# Threads serving HTTP requests in the web process (atom_site/http.py): the most requests it
# carries out at once, a synchronous run through the API holding one for its duration.
ATOM_WEB_THREADS = env_int("ATOM_WEB_THREADS", 32, minimum=1, maximum=1024)
WSGI_APPLICATION = "atom_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Databases -----------------------------------------------------------------------------------

# Before any SQLite connection opens (here, the first code a process runs): without SQLite's
# memory statistics, threads of one process query in parallel (atom_site/sqlite_setup.py).
SQLITE_MEMORY_STATISTICS_OFF = sqlite_memory_statistics_off()

DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {
    "default": database_from_url(
        DATABASE_URL,
        data_dir=ATOM_DATA_DIR,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        pool_max_size=env_int("DATABASE_POOL_MAX_SIZE", 20, minimum=0),
    ),
}
if DATABASES["default"]["ENGINE"] == SQLITE_ENGINE:
    # A file, not an in-memory database, so tests can share it with the worker, web and
    # runner processes they start.
    DATABASES["default"]["TEST"] = {"NAME": str(ATOM_DATA_DIR / "test_atom.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url_checked(env_str("REDIS_URL")) if env_str("REDIS_URL") else ""
ATOM_KEY_PREFIX = env_str("ATOM_KEY_PREFIX", "atom")

if not REDIS_URL:
    # The SQLite channel layer lives in its own file so its polling never contends with the
    # catalog's writers.
    DATABASES["channels"] = sqlite_database(ATOM_DATA_DIR / "channels.sqlite3")
    DATABASE_ROUTERS = ["atom_site.routers.ChannelLayerRouter"]

CACHES = caches_for(redis_url=REDIS_URL, data_dir=ATOM_DATA_DIR, key_prefix=ATOM_KEY_PREFIX)
CHANNEL_LAYERS = channel_layers_for(redis_url=REDIS_URL, key_prefix=ATOM_KEY_PREFIX)

# Task queue (django-q2) ----------------------------------------------------------------------
# See docs/decisions.md, "django-q2 configuration", for why each number is what it is.

Q_WORKERS = env_int("ATOM_Q_WORKERS", 4, minimum=1, maximum=64)
Q_TIMEOUT = env_int("ATOM_Q_TIMEOUT", 600, minimum=1)
Q_CLUSTER = {
    "name": "atom",
    "orm": "default",
    "workers": Q_WORKERS,
    "queue_limit": Q_WORKERS,
    "timeout": Q_TIMEOUT,
    "retry": 2 * Q_TIMEOUT + 60,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": env_int("ATOM_Q_SAVE_LIMIT", 10_000, minimum=0),
    "poll": env_float("ATOM_Q_POLL", 0.05, minimum=0.01, maximum=10),
    "catch_up": False,
    "sync": env_bool("ATOM_Q_SYNC", False),
    "label": "Tasks",
}

# Auth, i18n, static --------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = ATOM_DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
}

# Atom ------------------------------------------------------------------------------------------

ATOM_ADMIN_USERNAME = env_str("ATOM_ADMIN_USERNAME", "admin")
ATOM_ADMIN_PASSWORD = env_str("ATOM_ADMIN_PASSWORD")
ATOM_ADMIN_EMAIL = env_str("ATOM_ADMIN_EMAIL", "admin@localhost")
ATOM_HEALTH_TIMEOUT = env_float("ATOM_HEALTH_TIMEOUT", 3.0, minimum=0.1, maximum=60)

# Skills ----------------------------------------------------------------------------------------

ATOM_SKILL_MAX_BYTES = env_int("ATOM_SKILL_MAX_BYTES", 1_000_000, minimum=1024)
ATOM_BUNDLE_MAX_FILES = env_int("ATOM_BUNDLE_MAX_FILES", 2_000, minimum=1)
ATOM_BUNDLE_MAX_BYTES = env_int("ATOM_BUNDLE_MAX_BYTES", 100_000_000, minimum=1024)
ATOM_WATCH_DEBOUNCE_MS = env_int("ATOM_WATCH_DEBOUNCE_MS", 30, minimum=0, maximum=5_000)

# Installs ----------------------------------------------------------------------------------------
# Skill environments (skills/installer/, docs/installs.md): where they live, how they are built,
# and the supply-chain policy every requirement passes first.

ATOM_INSTALL_BACKENDS = ("uv", "pip", "docker")
ATOM_INSTALL_BACKEND = env_str("ATOM_INSTALL_BACKEND", "uv").strip().lower()
if ATOM_INSTALL_BACKEND not in ATOM_INSTALL_BACKENDS:
    raise ImproperlyConfigured(
        f"ATOM_INSTALL_BACKEND={ATOM_INSTALL_BACKEND!r} is not one of "
        + ", ".join(ATOM_INSTALL_BACKENDS)
    )
ATOM_ENVS_DIR = env_path("ATOM_ENVS_DIR", ATOM_DATA_DIR / "envs")
# Empty: the interpreter Atom itself runs on (its base, not Atom's own virtualenv).
ATOM_INSTALL_PYTHON = env_str("ATOM_INSTALL_PYTHON")
ATOM_UV_BIN = env_str("ATOM_UV_BIN")  # empty: the uv installed with Atom
# Same filesystem as ATOM_ENVS_DIR, so uv hardlinks files from its cache instead of copying.
ATOM_UV_CACHE_DIR = env_path("ATOM_UV_CACHE_DIR", ATOM_DATA_DIR / "uv-cache")
ATOM_INSTALL_INDEX_URL = env_str("ATOM_INSTALL_INDEX_URL")  # empty: uv's / pip's own default
# The certificates uv, pip and npm trust (they read no configuration file Atom did not write);
# empty: the caller's SSL_CERT_FILE or the system bundle, else each program's own default.
ATOM_INSTALL_CA_FILE = env_str("ATOM_INSTALL_CA_FILE") or certificate_file_default()
ATOM_NODE_BIN = env_str("ATOM_NODE_BIN", "node")
ATOM_NPM_BIN = env_str("ATOM_NPM_BIN", "npm")
ATOM_NPM_CACHE_DIR = env_path("ATOM_NPM_CACHE_DIR", ATOM_DATA_DIR / "npm-cache")
ATOM_NPM_IGNORE_SCRIPTS = env_bool("ATOM_NPM_IGNORE_SCRIPTS", True)
ATOM_NPM_REGISTRY = env_str("ATOM_NPM_REGISTRY")  # empty: npm's own configuration
ATOM_INSTALL_TIMEOUT = env_int("ATOM_INSTALL_TIMEOUT", 900, minimum=1)
ATOM_INSTALL_WAIT_TIMEOUT = env_float("ATOM_INSTALL_WAIT_TIMEOUT", 1_200, minimum=1)
# A build whose heartbeat is older than this is taken to be dead and may be claimed again.
ATOM_INSTALL_STALE_SECONDS = env_int("ATOM_INSTALL_STALE_SECONDS", 300, minimum=5)
# Verify a new environment in a fork of a warm helper per interpreter (installer/verifier.py);
# false: in a new interpreter, as before.
ATOM_VERIFY_WARM = env_bool("ATOM_VERIFY_WARM", True)
MAX_CONCURRENT_INSTALLATIONS = env_int("MAX_CONCURRENT_INSTALLATIONS", 3, minimum=1, maximum=64)
ATOM_POLICY_ALLOW = env_list("ATOM_POLICY_ALLOW", [])  # empty: every package not denied
ATOM_POLICY_DENY = env_list("ATOM_POLICY_DENY", [])
ATOM_POLICY_MAX_REQUIREMENTS = env_int("ATOM_POLICY_MAX_REQUIREMENTS", 50, minimum=0)
ATOM_POLICY_ALLOW_NETWORK = env_bool("ATOM_POLICY_ALLOW_NETWORK", False)
ATOM_DOCKER_URL = env_str("ATOM_DOCKER_URL")  # empty: DOCKER_HOST or the local socket
ATOM_DOCKER_BASE_IMAGE = env_str("ATOM_DOCKER_BASE_IMAGE", "python:3.12-slim")
ATOM_DOCKER_MEMORY = env_str("ATOM_DOCKER_MEMORY", "512m")
ATOM_DOCKER_CPUS = env_float("ATOM_DOCKER_CPUS", 1.0, minimum=0.01, maximum=256)
# The network image builds use to reach the index (empty: the engine's default).
ATOM_DOCKER_BUILD_NETWORK = env_str("ATOM_DOCKER_BUILD_NETWORK")

# Perf ------------------------------------------------------------------------------------------
# Timing samples are buffered and bulk-inserted; see docs/perf.md for every knob.

PERF_RECORDING_ENABLED = env_bool("ATOM_PERF_RECORDING", True)
PERF_BATCH_SIZE = env_int("ATOM_PERF_BATCH_SIZE", 500, minimum=1, maximum=100_000)
PERF_FLUSH_INTERVAL = env_float("ATOM_PERF_FLUSH_INTERVAL", 1.0, minimum=0.01, maximum=3600)
PERF_BUFFER_LIMIT = env_int("ATOM_PERF_BUFFER_LIMIT", 100_000, minimum=100)
PERF_SUMMARY_WORK_MEM = env_str("ATOM_PERF_SUMMARY_WORK_MEM", "64MB")
PERF_REGRESSION_THRESHOLD = env_float("ATOM_PERF_REGRESSION_THRESHOLD", 1.5, minimum=1.0)
PERF_REGRESSION_STATISTIC = env_str("ATOM_PERF_REGRESSION_STATISTIC", "p99")
if PERF_REGRESSION_STATISTIC not in ("p50", "p95", "p99"):
    raise ImproperlyConfigured("ATOM_PERF_REGRESSION_STATISTIC: use p50, p95 or p99")
PERF_CHECK_WINDOW = env_int("ATOM_PERF_CHECK_WINDOW", 3600, minimum=60)  # seconds
PERF_MIN_SAMPLES = env_int("ATOM_PERF_MIN_SAMPLES", 20, minimum=1)
PERF_RETENTION_DAYS = env_int("ATOM_PERF_RETENTION_DAYS", 7, minimum=1)
PERF_RESOURCE_INTERVAL = env_float("ATOM_PERF_RESOURCE_INTERVAL", 5.0, minimum=1, maximum=3600)
PERF_CPU_WARNING = env_float("ATOM_PERF_CPU_WARNING", 80, minimum=1, maximum=100)
PERF_CPU_CRITICAL = env_float("ATOM_PERF_CPU_CRITICAL", 95, minimum=1, maximum=100)
PERF_MEMORY_WARNING = env_float("ATOM_PERF_MEMORY_WARNING", 75, minimum=1, maximum=100)
PERF_MEMORY_CRITICAL = env_float("ATOM_PERF_MEMORY_CRITICAL", 90, minimum=1, maximum=100)
# /metrics: quantiles over this many seconds; a host's resources older than this are left out;
# with a token set, a scrape must send "Authorization: Bearer <token>".
PERF_METRICS_WINDOW = env_int("ATOM_PERF_METRICS_WINDOW", 300, minimum=10)
PERF_METRICS_RESOURCE_MAX_AGE = env_int("ATOM_PERF_METRICS_RESOURCE_MAX_AGE", 300, minimum=10)
PERF_METRICS_TOKEN = env_str("ATOM_PERF_METRICS_TOKEN")

# Runtime ---------------------------------------------------------------------------------------
# Warm runner pools that load, hot-reload and run skills in isolation; see docs/runtime.md.

# A warm runner serves one skill version (docs/sandbox.md): MIN standby runners per environment
# wait, bound to no skill, for a version's first call; MAX runners serve one version at once.
ATOM_RUNNER_MIN = env_int("ATOM_RUNNER_MIN", 1, minimum=0, maximum=256)
ATOM_RUNNER_MAX = env_int("ATOM_RUNNER_MAX", 4, minimum=1, maximum=256)
if ATOM_RUNNER_MIN > ATOM_RUNNER_MAX:
    raise ImproperlyConfigured(
        f"ATOM_RUNNER_MIN={ATOM_RUNNER_MIN} is above ATOM_RUNNER_MAX={ATOM_RUNNER_MAX}"
    )
ATOM_RUNNER_IDLE_SECONDS = env_float("ATOM_RUNNER_IDLE_SECONDS", 300, minimum=1)
ATOM_RUNNER_MAX_CALLS = env_int("ATOM_RUNNER_MAX_CALLS", 1000, minimum=1)
ATOM_RUNNERS_PER_HOST = env_int("ATOM_RUNNERS_PER_HOST", 64, minimum=1, maximum=10_000)
# The warm runners' memory together; past it (or past the count), the least recently used idle
# runner is shut.
ATOM_RUNNERS_MEMORY_MB = env_int("ATOM_RUNNERS_MEMORY_MB", 4096, minimum=64)
# cgroups count every descendant of a runner: auto (use them where this host can), required
# (refuse to run without), off (rlimits only, and the lower runner cap below).
ATOM_RUNNER_CGROUPS = env_str("ATOM_RUNNER_CGROUPS", "auto").strip().lower()
if ATOM_RUNNER_CGROUPS not in ("auto", "required", "off"):
    raise ImproperlyConfigured(
        f"ATOM_RUNNER_CGROUPS={ATOM_RUNNER_CGROUPS!r}: use auto, required or off"
    )
ATOM_RUNNERS_PER_HOST_WITHOUT_CGROUPS = env_int(
    "ATOM_RUNNERS_PER_HOST_WITHOUT_CGROUPS", 8, minimum=1, maximum=10_000
)
# Processes one runner and everything it started may have at once (the cgroup's pids.max).
ATOM_RUN_MAX_PROCESSES = env_int(
    "ATOM_RUN_MAX_PROCESSES", 128, minimum=8, maximum=100_000
)  # How long a call waits for a free runner of a full pool before failing (503 through the API).
ATOM_RUNNER_ACQUIRE_SECONDS = env_float("ATOM_RUNNER_ACQUIRE_SECONDS", 60, minimum=0.01)
ATOM_LOADER_CACHE_SIZE = env_int("ATOM_LOADER_CACHE_SIZE", 256, minimum=1, maximum=100_000)
ATOM_RUN_TIMEOUT_DEFAULT = env_float("ATOM_RUN_TIMEOUT_DEFAULT", 30, minimum=0.1, maximum=3600)
ATOM_RUN_TIMEOUT_CAP = env_float("ATOM_RUN_TIMEOUT_CAP", 600, minimum=0.1, maximum=86_400)
ATOM_RUN_MEMORY_MB = env_int("ATOM_RUN_MEMORY_MB", 512, minimum=16, maximum=65_536)
ATOM_RUN_MEMORY_MAX_MB = env_int("ATOM_RUN_MEMORY_MAX_MB", 8192, minimum=16, maximum=1_048_576)
ATOM_RUN_MAX_OUTPUT_BYTES = env_int("ATOM_RUN_MAX_OUTPUT_BYTES", 1_048_576, minimum=1024)
# The longest a run asked for through the API is carried out in-request; longer ones are queued.
ATOM_RUN_SYNC_TIMEOUT = env_float("ATOM_RUN_SYNC_TIMEOUT", 30, minimum=0.1, maximum=3600)
ATOM_SANDBOX = env_str("ATOM_SANDBOX", "auto").strip().lower()
if ATOM_SANDBOX not in ("auto", "bwrap", "none"):
    raise ImproperlyConfigured(f"ATOM_SANDBOX={ATOM_SANDBOX!r}: use auto, bwrap or none")
# Where Atom runs as root, the host uid bwrap drops to: nobody by default; a uid no other
# program uses keeps daemons that run as nobody from reaching the runners (docs/sandbox.md).
ATOM_SANDBOX_HOST_UID = env_int("ATOM_SANDBOX_HOST_UID", 65534, minimum=1, maximum=4_294_967_294)
# Skill files (path, or skill-id=path): a new pool of a matching kind starts a runner for each.
ATOM_PRELOAD_SKILLS = env_list("ATOM_PRELOAD_SKILLS", [])

# Marketplace -----------------------------------------------------------------------------------
# Search over the catalog (skills/marketplace/search/, docs/marketplace.md).

# SearchVectorField and the trigram lookups; harmless on SQLite.
INSTALLED_APPS.append("django.contrib.postgres")
MARKETPLACE_CACHE_TTL = env_int("MARKETPLACE_CACHE_TTL", 300, minimum=0, maximum=86_400)
MARKETPLACE_MAX_PAGE_SIZE = 100
MARKETPLACE_MAX_QUERY_LENGTH = env_int("MARKETPLACE_MAX_QUERY_LENGTH", 256, minimum=16)
# Threads per process that rank a full-text page on their own connection while the request
# counts the facets (skills/marketplace/search/helpers.py); 0 runs both on the request's connection.
MARKETPLACE_SEARCH_HELPERS = env_int("MARKETPLACE_SEARCH_HELPERS", 2, minimum=0, maximum=32)

# Workflows -------------------------------------------------------------------------------------
# Definitions, validation and analysis (workflows/, docs/workflows.md). A step's timeout may not
# exceed ATOM_RUN_TIMEOUT_CAP, the most the runtime enforces.

ATOM_WORKFLOWS_DIR = env_path("ATOM_WORKFLOWS_DIR", BASE_DIR / "workflows_library")
ATOM_WORKFLOW_MAX_STEPS = env_int("ATOM_WORKFLOW_MAX_STEPS", 10_000, minimum=1, maximum=1_000_000)
ATOM_WORKFLOW_MAX_BYTES = env_int("ATOM_WORKFLOW_MAX_BYTES", 10_000_000, minimum=1024)

# API keys ----------------------------------------------------------------------------------------
# Seconds a process reuses a key (and its owner) it read; a change to a key (revocation, scopes,
# expiry) is seen at once through a generation in the shared cache; 0 reads every time.
ATOM_API_KEY_CACHE_SECONDS = env_float("ATOM_API_KEY_CACHE_SECONDS", 5.0, minimum=0, maximum=300)
# Seconds a process reuses a skill (with its current version) it read to run it; any change to
# the catalog is seen at once through its generation; 0 reads every time.
ATOM_CATALOG_COPY_SECONDS = env_float("ATOM_CATALOG_COPY_SECONDS", 5.0, minimum=0, maximum=300)

# API rate limits ---------------------------------------------------------------------------------
# Per key (or per user, for sessions and basic auth) on the expensive endpoints, counted in the
# shared cache (atom_site/rate_limits.py); "N/period" (60/minute, 1000/hour, 5/10s) or "off".
ATOM_RATE_LIMITS = {
    "runs": env_rate("ATOM_RATE_LIMIT_RUNS", "600/minute"),
    "installs": env_rate("ATOM_RATE_LIMIT_INSTALLS", "120/minute"),
    "imports": env_rate("ATOM_RATE_LIMIT_IMPORTS", "30/minute"),
    "workflow_starts": env_rate("ATOM_RATE_LIMIT_WORKFLOW_STARTS", "300/minute"),
}

# The run engine (docs/workflows.md, "Running"): the largest step output kept, how long a
# cacheable step's output is reused by default, how often a running step's worker says it is
# alive, how long past that (or past the step's timeout) the reaper waits before it reclaims
# the step, and how long a queued step may wait before the reaper gives it a fresh task.
ATOM_STEP_OUTPUT_MAX_BYTES = env_int("ATOM_STEP_OUTPUT_MAX_BYTES", 1_000_000, minimum=2)
ATOM_STEP_CACHE_TTL = env_float("ATOM_STEP_CACHE_TTL", 3600, minimum=0)
ATOM_STEP_HEARTBEAT_SECONDS = env_float("ATOM_STEP_HEARTBEAT_SECONDS", 2, minimum=0.05, maximum=600)
ATOM_STEP_STALE_SECONDS = env_float("ATOM_STEP_STALE_SECONDS", 30, minimum=0.1, maximum=86_400)
ATOM_STEP_REQUEUE_SECONDS = env_float("ATOM_STEP_REQUEUE_SECONDS", 300, minimum=0.1, maximum=86_400)
# Tasks enqueued for one batch of ready steps (a run's roots, a release): enough to keep every
# worker busy; a worker left with nothing released takes the run's next ready step itself.
ATOM_WORKFLOW_TASKS_PER_BATCH = env_int(
    "ATOM_WORKFLOW_TASKS_PER_BATCH", max(8, 2 * Q_WORKERS), minimum=1, maximum=100_000
)
