"""Every catalog change is announced on the channel layer after it commits, in order, from a
background thread; a short-lived command that exits right after its import still delivers."""

import asyncio
import json
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model

from skills.catalog.announcements import SKILLS_GROUP, announcements_flush, catalog_generation
from skills.catalog.importer import ImportRefused, SkillSource, skills_import
from skills.catalog.transitions import skill_approve, skill_update
from skills.models import Skill
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def source(version: str, name: str = "echo-text") -> SkillSource:
    body = f"def run():\n    return {{'version': {version!r}}}\n"
    text = skill_source(name=name, version=version, body=body)
    return SkillSource(f"{name}.py", f"{name}.py", text.encode())


class Listener:
    """A channel subscribed to the skills group, read once from synchronous test code (the
    layer's receive buffers belong to one event loop)."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(SKILLS_GROUP, self.channel)

    def read(self, count: int, timeout: float = 10) -> tuple[list[dict], bool]:
        """The next `count` events, and whether nothing else followed within 0.3 s."""

        async def read() -> tuple[list[dict], bool]:
            events: list[dict] = []
            while len(events) < count:
                message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                # A burst the publisher found queued comes as one `atom.events` message.
                events += message["payloads"] if "payloads" in message else [message["payload"]]
            try:
                await asyncio.wait_for(self.layer.receive(self.channel), 0.3)
            except TimeoutError:
                return events, True
            return events, False

        return async_to_sync(read)()


def test_each_committed_change_is_announced_in_order():
    listener = Listener()
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)

    skills_import(sources=[source("1.0.0")])
    skill_update(source=source("1.1.0"))
    skill_approve(skill=Skill.objects.get(), actor=staff)

    events, quiet_after = listener.read(3)
    hashes = dict(Skill.objects.get().versions.values_list("version", "content_hash"))
    assert events == [
        {
            "event": "skills.versions",
            "skills": [{"slug": "echo-text", "version": "1.0.0", "content_hash": hashes["1.0.0"]}],
        },
        {
            "event": "skills.versions",
            "skills": [{"slug": "echo-text", "version": "1.1.0", "content_hash": hashes["1.1.0"]}],
        },
        {"event": "skills.approved", "skills": [{"slug": "echo-text"}]},
    ]
    assert quiet_after


def test_a_burst_of_updates_arrives_complete_and_in_order():
    listener = Listener()
    skills_import(sources=[source("1.0.0")])
    versions = [f"1.{minor}.0" for minor in range(1, 21)]

    for version in versions:
        skill_update(source=source(version))

    events, quiet_after = listener.read(21)
    assert [event["skills"][0]["version"] for event in events] == ["1.0.0", *versions]
    assert quiet_after


def test_a_refused_import_announces_nothing_and_keeps_the_cache_generation():
    listener = Listener()
    generation = catalog_generation()

    with pytest.raises(ImportRefused):
        skills_import(sources=[source("1.0.0"), source("not a version", name="other")])

    assert announcements_flush(5)
    assert listener.read(0) == ([], True)
    assert catalog_generation() == generation


def test_the_caller_returns_before_the_event_is_sent_and_flush_waits_for_it():
    listener = Listener()
    generation = catalog_generation()

    skills_import(sources=[source("1.0.0")])

    assert catalog_generation() == generation + 1  # the cache is invalidated at once
    assert announcements_flush(10)
    events, _ = listener.read(1)
    assert events[0]["event"] == "skills.versions"


LISTEN = """
import asyncio, json, sys
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
if "channels" in settings.DATABASES:
    call_command("migrate", database="channels", verbosity=0)
from channels.layers import get_channel_layer

async def main():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("skills", channel)
    print("ready", flush=True)
    sys.stdin.readline()  # read once the commands are done: a blocking read may time out
    for _ in range(int(sys.argv[1])):
        message = await asyncio.wait_for(layer.receive(channel), 30)
        print(json.dumps(message["payload"]), flush=True)

asyncio.run(main())
"""


def test_a_command_that_exits_right_after_its_import_still_delivers(
    tmp_path, manage_py, process_env
):
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text(skill_source(name="first-skill"))
    second.write_text(skill_source(name="second-skill"))
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTEN, "2"],
        env=process_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outputs = []
    try:
        assert listener.stdout.readline().strip() == "ready", listener.stderr.read()
        for path in (first, second):
            imported = subprocess.run(
                [*manage_py, "skills", "import", str(path)],
                env=process_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert imported.returncode == 0, imported.stderr
            outputs.append(imported.stderr)
        output, errors = listener.communicate("go\n", timeout=30)
    finally:
        listener.kill()

    events = [json.loads(line) for line in output.splitlines()]
    assert [(e["event"], e["skills"][0]["slug"]) for e in events] == [
        ("skills.versions", "first-skill"),
        ("skills.versions", "second-skill"),
    ], (errors, outputs)
