"""The benchmark suite: each benchmark names a target of DESIGN.md (perf/targets.py); at the
end of the session one table shows every target's measured median and p95 beside the seed and
Atom targets, the results are written as JSON and optionally compared with a previous JSON.

See docs/benchmarks.md for how to add a benchmark.
"""

import os
import sys
from pathlib import Path

import pytest

from perf.targets import (
    TARGETS,
    Result,
    result_from_durations,
    results_read,
    results_write,
    table_text,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = pytest.StashKey[list[Result]]()
TARGET_OF = pytest.StashKey[dict[str, str]]()
LIMIT_OF = pytest.StashKey[dict[str, float]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("atom targets")
    group.addoption(
        "--targets-json",
        default=os.environ.get("BENCH_TARGETS_JSON", str(ROOT / "data" / "bench-targets.json")),
        help="where to write the results judged against the targets",
    )
    group.addoption(
        "--targets-compare",
        default=os.environ.get("BENCH_COMPARE") or None,
        help="a previous --targets-json file to compare medians with",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "target(key): the DESIGN.md target (perf/targets.py) this benchmark measures"
    )
    config.stash[RESULTS] = []
    config.stash[TARGET_OF] = {}
    config.stash[LIMIT_OF] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("target")
        if marker is None:
            continue
        key = marker.args[0]
        if key not in TARGETS:
            raise pytest.UsageError(f"{item.nodeid}: unknown target {key!r} (perf/targets.py)")
        config.stash[TARGET_OF][item.nodeid] = key


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, request):
    """pytest-django's, plus the test database it skips when no selected benchmark carries a
    django_db mark: those measuring served requests run outside a test transaction (no mark)."""
    from django.test.utils import setup_databases, teardown_databases

    if any(item.get_closest_marker("django_db") for item in request.session.items):
        yield
        return
    with django_db_blocker.unblock():
        created = setup_databases(
            verbosity=request.config.option.verbose, interactive=False, aliases={"default"}
        )
    yield
    with django_db_blocker.unblock():
        teardown_databases(created, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session", autouse=True)
def _perf_buffer_emptied_before_the_test_database_goes(django_db_setup):
    """Samples left in the buffer must not be flushed at exit into a dropped database."""
    yield
    from perf.recording import buffer

    buffer.writer_wait()
    buffer.clear()


@pytest.fixture
def note(capsys: pytest.CaptureFixture[str]):
    """Show one line of a benchmark's report in the terminal, past pytest's capture (make bench
    runs quietly): note("what was measured, beside its target")."""

    def write(text: str) -> None:
        with capsys.disabled():
            sys.stdout.write(f"\n  {text}\n")

    return write


@pytest.fixture
def bench_record(request: pytest.FixtureRequest):
    """Record durations measured by the benchmark itself: bench_record(key, seconds_list)."""

    def record(key: str, durations: list[float], *, limit: float | None = None) -> Result:
        result = result_from_durations(key, list(durations), limit=limit)
        request.config.stash[RESULTS].append(result)
        return result

    return record


@pytest.fixture
def bench_limit(request: pytest.FixtureRequest):
    """Give a relative target its limit at run time: bench_limit(1.15 * floor)."""

    def set_limit(seconds: float) -> None:
        request.config.stash[LIMIT_OF][request.node.nodeid] = seconds

    return set_limit


def _pytest_benchmark_results(config: pytest.Config) -> list[Result]:
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return []
    results = []
    for bench in session.benchmarks:
        key = config.stash[TARGET_OF].get(bench.fullname) or _target_from_extra_info(bench)
        if key is None or not bench.stats.data:
            continue
        limit = config.stash[LIMIT_OF].get(bench.fullname)
        results.append(result_from_durations(key, list(bench.stats.data), limit=limit))
    return results


def _target_from_extra_info(bench) -> str | None:
    """Also accepted: benchmark.extra_info["target"] (or ["operation"]) naming a target key."""
    info = bench.extra_info or {}
    for name in ("target", "operation"):
        if info.get(name) in TARGETS:
            return info[name]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    results = _pytest_benchmark_results(config) + config.stash[RESULTS]
    compare = config.getoption("--targets-compare")
    previous = results_read(Path(compare)) if compare else None
    terminalreporter.write_sep("=", "Atom targets")
    terminalreporter.write_line(table_text(results, previous))
    target_path = Path(config.getoption("--targets-json"))
    results_write(results, target_path)
    terminalreporter.write_line(f"results: {target_path}")
    session = getattr(config, "_benchmarksession", None)
    if session is not None:
        session.groups = []  # one table: ours replaces pytest-benchmark's own
