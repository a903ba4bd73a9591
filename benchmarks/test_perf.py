"""perf's own targets: the cost of measuring, and percentiles over a million samples."""

import pytest
from django.db import connection

from perf.analysis import summary
from perf.models import Sample
from perf.recording import buffer, flush, measure_performance


@pytest.fixture
def realistic_buffer():
    """The default batching, with the writer thread writing for real."""
    saved = (buffer.batch_size, buffer.flush_interval, buffer.enabled)
    buffer.clear()
    buffer.configure(batch_size=500, flush_interval=1.0, enabled=True)
    yield
    buffer.writer_wait()
    buffer.clear()
    buffer.batch_size, buffer.flush_interval, buffer.enabled = saved


@pytest.mark.target("timing_sample_overhead")
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("realistic_buffer")
def test_timing_sample_overhead(benchmark):
    def measured_block() -> None:
        with measure_performance("benchmark_hot_path", skill="bench", version="1"):
            pass

    benchmark.pedantic(measured_block, rounds=200, iterations=1000, warmup_rounds=5)
    buffer.writer_wait()
    flush()
    assert Sample.objects.filter(operation="benchmark_hot_path").count() > 0


MILLION = 1_000_000
OPERATIONS = [
    "package_install", "skill_load", "hot_reload", "marketplace_search",
    "workflow_validation", "dependency_resolution", "skill_update", "skill_run",
]  # fmt: skip


@pytest.mark.target("percentiles_1m_postgres")
@pytest.mark.django_db(transaction=True)  # committed rows, so VACUUM can set the visibility map
def test_percentiles_over_a_million_samples(benchmark):
    if connection.vendor != "postgresql":
        pytest.skip("the target is for PostgreSQL: run with DATABASE_URL=postgres://…")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Sample._meta.db_table} (operation, duration, ok, error, skill, version,"
            " environment_key, workflow, step, agent, host, context, created_at)"
            " SELECT (%s::text[])[1 + i %% %s], random() * 0.1, true, '', '', '', '', '', '',"
            " '', 'bench', '{}'::jsonb, now() - (i || ' milliseconds')::interval"
            " FROM generate_series(1, %s) AS i",
            [OPERATIONS, len(OPERATIONS), MILLION],
        )
        cursor.execute(f"VACUUM ANALYZE {Sample._meta.db_table}")  # as autovacuum would

    found = benchmark.pedantic(summary, rounds=5, iterations=1, warmup_rounds=1)

    assert sum(item.count for item in found) == MILLION
    assert [item.operation for item in found] == sorted(OPERATIONS)
