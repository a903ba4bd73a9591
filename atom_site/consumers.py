"""A websocket that relays one channel-layer group to the browser, notebook or API client."""

import re

from channels.generic.websocket import AsyncJsonWebsocketConsumer

GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,90}$")


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Subscribe to `/ws/events/<group>/` and receive every `atom.event` published to it."""

    async def connect(self) -> None:
        self.group = self.scope["url_route"]["kwargs"]["group"]
        if not GROUP_NAME.match(self.group):
            await self.close(code=4400)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if GROUP_NAME.match(getattr(self, "group", "")):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def atom_event(self, message: dict) -> None:
        await self.send_json(message["payload"])
