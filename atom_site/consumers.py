"""Websockets: a subject's live events (`/ws/runs/<id>/`, `/ws/installs/<id>/`,
`/ws/skill-runs/<id>/`), and the public catalog announcements (`/ws/events/skills/`).

A subject's socket subscribes to its group first, then reads the database (the snapshot, or
the events after `?after=`), then relays what the group brings, de-duplicated and gap-filled by
`seq`: an event published while the database was being read is either in what was read (and
dropped when it arrives) or after it (and sent). A message that never arrives (a publisher that
died after its commit, a channel over capacity) is read back from the database by a slow poll,
so nothing is lost either way. The protocol is docs/live-progress.md's.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from atom_site.events.read import (
    SUBJECT_KINDS,
    FollowRefused,
    SubjectKind,
    events_after,
    follow_check,
    last_seq,
    snapshot,
)
from atom_site.events.record import Subject
from atom_site.keys import ApiKeyRefused, api_key_check
from atom_site.models import ApiKey

GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,90}$")
# Groups anyone may follow: the catalog's announcements (skills/catalog/announcements.py).
PUBLIC_GROUPS = frozenset({"skills"})

CLOSE_NORMAL = 1000
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# How long a socket waits for the layer before reading the database itself.
POLL_SECONDS = 1.0


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Subscribe to `/ws/events/<group>/` and receive every `atom.event` published to it. Only
    the public groups: a subject's events are followed at its own path, with credentials."""

    async def connect(self) -> None:
        self.group = self.scope["url_route"]["kwargs"]["group"]
        if not GROUP_NAME.match(self.group):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        if self.group not in PUBLIC_GROUPS:
            await self.accept()  # so that the client sees the code
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", "") in PUBLIC_GROUPS:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def atom_event(self, message: dict) -> None:
        await self.send_json(message["payload"])


# Credentials -----------------------------------------------------------------------------------


class NoCredentials(Exception):
    pass


def _token_from(scope: dict[str, Any]) -> str | None:
    headers = {name.decode("latin-1").lower(): value for name, value in scope.get("headers", [])}
    authorization = headers.get("authorization", b"").decode("latin-1")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if headers.get("x-api-key"):
        return headers["x-api-key"].decode("latin-1").strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("key"):
        return query["key"][0].strip()
    return None


def credentials_check(scope: dict[str, Any]) -> tuple[Any, ApiKey | None]:
    """(user, key) the socket is signed in with: an API key (header or `?key=`), else the
    session. Raises NoCredentials, or ApiKeyRefused for a key that signs no one in."""
    token = _token_from(scope)
    if token is not None:
        key = api_key_check(token)
        return key.owner, key
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        raise NoCredentials
    return user, None


def subject_open(
    kind: SubjectKind, pk: int, scope: dict[str, Any]
) -> tuple[int, Any]:  # (close code or 0, row)
    try:
        user, key = credentials_check(scope)
    except (NoCredentials, ApiKeyRefused):
        return CLOSE_UNAUTHENTICATED, None
    row = kind.load(pk)
    if row is None:
        return CLOSE_NOT_FOUND, None
    try:
        follow_check(kind, row, user=user, key=key)
    except FollowRefused:
        return CLOSE_FORBIDDEN, None
    return 0, row


# A subject's events ----------------------------------------------------------------------------


class SubjectEventsConsumer(AsyncJsonWebsocketConsumer):
    kind_name = ""

    async def connect(self) -> None:
        self.is_ended = False
        self.poller: asyncio.Task | None = None
        self.lock = asyncio.Lock()
        self.kind = SUBJECT_KINDS[self.kind_name]
        await self.accept()  # before any close, so that the client sees the code
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        after = None
        if "after" in query:
            try:
                after = int(query["after"][0])
            except ValueError:
                after = -1
            if after < 0:
                await self.close(code=CLOSE_BAD_REQUEST)
                return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        code, row = await database_sync_to_async(subject_open)(self.kind, pk, self.scope)
        if code:
            await self.close(code=code)
            return
        self.subject = Subject(self.kind_name, pk)
        await self.channel_layer.group_add(self.subject.group, self.channel_name)
        self.heard_at = time.monotonic()
        async with self.lock:
            if after is None:
                state = await database_sync_to_async(snapshot)(self.kind, self.subject, row)
                await self.send_json(state)
                self.last = state["seq"]
                if self.kind.is_finished(_State(state, self.kind_name)):
                    await self._catch_up()
                    if not self.is_ended:
                        await self._end()
                    return
            else:
                self.last = after
            await self._catch_up()
            if not self.is_ended and after is not None:
                await self._end_if_finished()
        if not self.is_ended:
            self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code: int) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if hasattr(self, "subject"):
            await self.channel_layer.group_discard(self.subject.group, self.channel_name)

    async def atom_event(self, message: dict) -> None:
        event = message["payload"]
        self.heard_at = time.monotonic()
        async with self.lock:
            if self.is_ended or event["seq"] <= self.last:
                return
            if event["seq"] == self.last + 1:
                await self._send_event(event)
            else:  # one or more did not come (yet): the database has them
                await self._catch_up()

    async def _send_event(self, event: dict) -> None:
        await self.send_json({"type": "event", **event})
        self.last = event["seq"]
        if self.kind.is_final_event(event):
            await self._end()

    async def _catch_up(self) -> None:
        events = await database_sync_to_async(events_after)(self.subject, after=self.last)
        for event in events:
            if self.is_ended:
                return
            await self._send_event(event)

    async def _end_if_finished(self) -> None:
        """A replay that ends before any final event was written (a subject finished before it
        had events) ends here."""

        def finished() -> bool:
            row = self.kind.load(self.subject.pk)
            return row is not None and self.kind.is_finished(row)

        is_finished = await database_sync_to_async(finished)()
        if is_finished and self.last >= await database_sync_to_async(last_seq)(self.subject):
            await self._end()

    async def _end(self) -> None:
        self.is_ended = True
        await self.send_json({"type": "end", "seq": self.last})
        await self.close(code=CLOSE_NORMAL)

    async def _poll(self) -> None:
        while not self.is_ended:
            await asyncio.sleep(POLL_SECONDS)
            if time.monotonic() - self.heard_at < POLL_SECONDS:
                continue
            async with self.lock:
                if not self.is_ended:
                    await self._catch_up()


class _State:
    """The subject's status as a snapshot tells it, for `SubjectKind.is_finished`."""

    def __init__(self, state: dict[str, Any], kind_name: str) -> None:
        self.status = state[kind_name]["status"]


class RunEventsConsumer(SubjectEventsConsumer):
    kind_name = "run"


class InstallEventsConsumer(SubjectEventsConsumer):
    kind_name = "install"


class SkillRunEventsConsumer(SubjectEventsConsumer):
    kind_name = "skill_run"
