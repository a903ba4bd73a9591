import asyncio
import time

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from atom_site.asgi import application
from atom_site.events import apublish_event, publish, publisher

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


async def test_a_published_event_reaches_a_subscribed_websocket():
    communicator = WebsocketCommunicator(application, "/ws/events/skills/")
    communicator.scope["headers"] = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    connected, _ = await communicator.connect()
    assert connected

    await apublish_event("skills", {"event": "version.created", "skill": "slugify"})

    assert await communicator.receive_json_from(timeout=5) == {
        "event": "version.created",
        "skill": "slugify",
    }
    await communicator.disconnect()


async def test_a_bad_group_name_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/events/no%20spaces/")
    communicator.scope["headers"] = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    connected, code = await communicator.connect()
    assert not connected


async def test_events_published_during_the_send_interval_go_as_one_message(monkeypatch):
    """A lone event goes at once; what follows within the interval after a send goes with the
    next send, in order, as one layer message."""
    monkeypatch.setattr(publish, "SEND_INTERVAL_SECONDS", 1.0)
    await asyncio.sleep(0.05)  # a send already waiting has its wait measured with 10 ms
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("test.burst", channel)

    started = time.monotonic()
    publisher.publish("test.burst", {"n": 0})
    first = await asyncio.wait_for(layer.receive(channel), timeout=5)
    alone = time.monotonic() - started
    for n in (1, 2, 3):
        publisher.publish("test.burst", {"n": n})
    second = await asyncio.wait_for(layer.receive(channel), timeout=5)
    together = time.monotonic() - started

    assert first == {"type": "atom.event", "payload": {"n": 0}}
    assert second == {"type": "atom.events", "payloads": [{"n": 1}, {"n": 2}, {"n": 3}]}
    assert alone < 0.9 <= together
    await layer.group_discard("test.burst", channel)
