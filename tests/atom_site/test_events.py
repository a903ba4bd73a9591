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


async def test_events_of_sends_closer_than_the_interval_wait_and_go_as_one_message(monkeypatch):
    """Events go at once, until two sends came closer together than the interval: then what
    follows waits for the interval's end and goes with what came meanwhile, in order, as one
    layer message."""
    monkeypatch.setattr(publish, "SEND_INTERVAL_SECONDS", 1.0)
    await asyncio.sleep(0.05)  # a wait already under way was measured with the default
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("test.burst", channel)

    started = time.monotonic()
    received = []
    for n in (0, 1):
        publisher.publish("test.burst", {"n": n})
        received.append(await asyncio.wait_for(layer.receive(channel), timeout=5))
    at_once = time.monotonic() - started
    for n in (2, 3, 4):
        publisher.publish("test.burst", {"n": n})
    received.append(await asyncio.wait_for(layer.receive(channel), timeout=5))
    waited = time.monotonic() - started

    assert received == [
        {"type": "atom.event", "payload": {"n": 0}},
        {"type": "atom.event", "payload": {"n": 1}},
        {"type": "atom.events", "payloads": [{"n": 2}, {"n": 3}, {"n": 4}]},
    ]
    assert at_once < 0.9 <= waited
    await layer.group_discard("test.burst", channel)
