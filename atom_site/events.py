"""Publishing events on the channel layer, for live pages, notebooks and API clients.

Callers write their state to the database first and publish afterwards, so a listener that
misses an event can always read the current state back.
"""

from typing import Any

from channels.layers import get_channel_layer


async def apublish_event(group: str, payload: dict[str, Any]) -> None:
    """Send `payload` to every websocket subscribed to `group`."""
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(group, {"type": "atom.event", "payload": payload})
