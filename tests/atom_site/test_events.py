import pytest
from channels.testing import WebsocketCommunicator

from atom_site.asgi import application
from atom_site.events import apublish_event

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
