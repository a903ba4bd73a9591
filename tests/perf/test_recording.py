import asyncio

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from perf.models import Sample
from perf.recording import aflush, buffer, flush, measure_performance, record_sample

pytestmark = pytest.mark.django_db


def test_a_timed_block_records_one_sample_with_its_context():
    with measure_performance(
        "skill_load", skill="csv-tools", version="1.2.0", environment_key="k1", attempt=2
    ) as measurement:
        pass

    assert flush() == 1
    sample = Sample.objects.get()
    assert sample.operation == "skill_load"
    assert sample.duration == measurement.duration
    assert sample.duration >= 0
    assert sample.ok is True
    assert sample.error == ""
    assert (sample.skill, sample.version, sample.environment_key) == ("csv-tools", "1.2.0", "k1")
    assert sample.host == settings.ATOM_HOST_NAME
    assert sample.context == {"attempt": 2}


def test_an_escaping_exception_marks_the_sample_failed_and_still_propagates():
    with pytest.raises(KeyError), measure_performance("package_install"):
        raise KeyError("requests")

    flush()
    sample = Sample.objects.get()
    assert (sample.ok, sample.error) == (False, "KeyError")


def test_fail_marks_the_sample_failed_without_raising():
    with measure_performance("skill_run") as measurement:
        measurement.fail("skill returned an error")

    flush()
    assert Sample.objects.values_list("ok", "error").get() == (False, "skill returned an error")


def test_a_decorated_function_records_one_sample_per_call_and_returns_its_value():
    @measure_performance("workflow_validation", workflow="etl")
    def validate(steps: int) -> int:
        return steps * 2

    assert [validate(1), validate(2), validate(3)] == [2, 4, 6]

    flush()
    assert Sample.objects.filter(operation="workflow_validation", workflow="etl").count() == 3


@pytest.mark.django_db(transaction=True)  # the ORM runs in another thread in async tests
@pytest.mark.usefixtures("thread_connections_closed")
async def test_a_decorated_coroutine_records_one_sample_per_call():
    @measure_performance("marketplace_search")
    async def search(term: str) -> str:
        await asyncio.sleep(0)
        return term.upper()

    assert await search("csv") == "CSV"
    assert await search("pdf") == "PDF"

    assert await aflush() == 2
    assert await Sample.objects.filter(operation="marketplace_search").acount() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_an_async_with_block_records_a_sample():
    async with measure_performance("hot_reload", skill="watcher"):
        await asyncio.sleep(0)

    await aflush()
    assert await Sample.objects.filter(operation="hot_reload", skill="watcher").acount() == 1


def test_a_full_batch_inside_a_transaction_wakes_the_writer_only_when_it_commits(
    django_capture_on_commit_callbacks,
):
    buffer.configure(batch_size=3)
    with django_capture_on_commit_callbacks() as callbacks:
        for duration in (0.01, 0.02, 0.03, 0.04):
            record_sample("skill_update", duration)

    # One wake-up per transaction, however many samples; the timer is armed at the commit too.
    assert callbacks == [buffer.writer_arm, buffer.writer_wake]
    assert Sample.objects.count() == 0
    assert flush() == 4
    assert sorted(Sample.objects.values_list("duration", flat=True)) == [0.01, 0.02, 0.03, 0.04]


def test_an_old_buffer_is_written_when_the_next_sample_arrives(django_capture_on_commit_callbacks):
    buffer.configure(batch_size=1000, flush_interval=0.01)
    with django_capture_on_commit_callbacks() as callbacks:
        record_sample("skill_load", 0.5)
    assert callbacks == [buffer.writer_arm]  # the timer, armed once the transaction commits

    with django_capture_on_commit_callbacks() as callbacks:
        buffer._deadline = 0.0  # the first sample is now older than the flush interval
        record_sample("skill_load", 0.6)

    assert callbacks == [buffer.writer_wake]


def test_a_batch_is_written_in_one_statement():
    for index in range(50):
        record_sample("dependency_resolution", index / 1000, skill=f"s{index}")

    with CaptureQueriesContext(connection) as queries:
        assert flush() == 50

    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1
    expected = "COPY perf_sample" if connection.vendor == "postgresql" else "50 times: INSERT INTO"
    assert statements[0].startswith(expected)
    assert sorted(Sample.objects.values_list("skill", flat=True)) == sorted(
        f"s{index}" for index in range(50)
    )


def test_a_negative_duration_is_refused_and_nothing_is_buffered():
    with pytest.raises(ValueError, match="non-negative"):
        record_sample("skill_load", -1.0)
    assert len(buffer) == 0


def test_nothing_is_kept_while_recording_is_disabled():
    buffer.configure(enabled=False)
    with measure_performance("skill_load"):
        pass
    record_sample("skill_load", 0.1)

    assert len(buffer) == 0
    assert flush() == 0
    assert Sample.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_a_full_batch_in_a_running_event_loop_is_written_by_the_writer_thread():
    buffer.configure(batch_size=2)
    async with measure_performance("marketplace_search"):
        pass
    async with measure_performance("marketplace_search"):
        pass

    assert buffer.writer_wait()
    assert await Sample.objects.filter(operation="marketplace_search").acount() == 2


@pytest.mark.django_db(transaction=True)
def test_a_full_batch_outside_a_transaction_is_written_by_the_writer_thread():
    buffer.configure(batch_size=3)
    for duration in (0.1, 0.2, 0.3):
        record_sample("package_install", duration, environment_key="e1")

    assert buffer.writer_wait()
    assert len(buffer) == 0
    assert Sample.objects.filter(environment_key="e1").count() == 3
