from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from perf.models import Sample
from perf.recording import buffer


@pytest.fixture(autouse=True)
def _empty_sample_buffer() -> Iterator[None]:
    """Every test starts with an empty buffer and the default batching."""
    saved = (buffer.batch_size, buffer.flush_interval, buffer.enabled)
    buffer.clear()
    yield
    buffer.clear()
    buffer.batch_size, buffer.flush_interval, buffer.enabled = saved


NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def recent() -> datetime:
    """The real time, for code that reads its window back from the clock."""
    return timezone.now()


def samples_create(operation: str, durations, *, at: datetime = NOW, **fields) -> list[Sample]:
    """Write samples directly (not through the buffer), one second apart ending at `at`."""
    durations = list(durations)
    return Sample.objects.bulk_create(
        Sample(
            operation=operation,
            duration=duration,
            created_at=at - timedelta(seconds=len(durations) - index),
            **fields,
        )
        for index, duration in enumerate(durations)
    )


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("ops", password="pw", is_staff=True)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
async def thread_connections_closed():
    """Close the connection sync_to_async's thread opened, so the test database can be dropped."""
    yield
    from asgiref.sync import sync_to_async
    from django.db import connections

    await sync_to_async(connections.close_all, thread_sensitive=True)()
