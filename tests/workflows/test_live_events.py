"""A run's live events: persisted with gapless sequence numbers in the transaction of each
change, the skill's printed lines batched as log events, read back over HTTP."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from atom_site.events.read import events_after
from atom_site.events.record import Subject, event_record, events_record
from atom_site.keys import api_key_create
from atom_site.models import Event
from skills.models import Agent
from workflows.engine import run_start

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

STEPS = [
    {"id": "talk", "skill": "chatty", "params": {"lines": 3}},
    {"id": "after", "skill": "echo", "params": {"value": 1}, "depends_on": ["talk"]},
]


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("owner", password="pw-12345678")


def test_a_run_s_events_come_in_order_without_gaps_with_its_log(workflow_make, q_sync, owner):
    run = run_start(workflow_make("talk", STEPS), {}, requested_by=owner)

    events = events_after(Subject("run", run.pk))
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    changes = [
        (event["kind"], event.get("step"), event.get("status"))
        for event in events
        if event["kind"] != "log"
    ]
    assert changes == [
        ("run", None, "queued"),
        ("step", "talk", "running"),
        ("run", None, "running"),
        ("step", "talk", "succeeded"),
        ("step", "after", "queued"),
        ("step", "after", "running"),
        ("step", "after", "succeeded"),
        ("run", None, "succeeded"),
    ]
    logs = [event for event in events if event["kind"] == "log"]
    assert [line for event in logs for line in event["lines"]] == [
        "line 0", "line 1", "line 2", "done"
    ]  # fmt: skip
    assert {event["step"] for event in logs} == {"talk"}
    # The lines come before the step's outcome.
    succeeded = next(e["seq"] for e in events if e.get("status") == "succeeded")
    assert max(event["seq"] for event in logs) < succeeded
    running = next(e for e in events if e["kind"] == "step" and e["status"] == "running")
    assert (running["attempt"], running["duration_ms"], running["error"]) == (1, None, "")
    done = next(e for e in events if e["kind"] == "step" and e["status"] == "succeeded")
    assert isinstance(done["duration_ms"], float)
    assert done["is_cached"] is False


def test_the_http_endpoint_pages_after_a_seq(workflow_make, q_sync, owner, client):
    run = run_start(workflow_make("talk", STEPS), {}, requested_by=owner)
    total = Event.objects.filter(subject="run", subject_id=run.pk).count()
    client.force_login(owner)

    first = client.get(f"/api/workflow-runs/{run.pk}/events?after=0&limit=3").json()
    assert [item["seq"] for item in first["items"]] == [1, 2, 3]
    assert (first["next_after"], first["finished"]) == (3, False)
    rest = client.get(f"/api/workflow-runs/{run.pk}/events?after=3").json()
    assert [item["seq"] for item in rest["items"]] == list(range(4, total + 1))
    assert (rest["next_after"], rest["finished"]) == (total, True)
    assert rest["items"][-1] == {
        "seq": total, "at": rest["items"][-1]["at"], "kind": "run", "status": "succeeded",
        "error": "",
    }  # fmt: skip
    empty = client.get(f"/api/workflow-runs/{run.pk}/events?after={total}").json()
    assert empty == {"items": [], "next_after": total, "finished": True}


def test_the_http_endpoint_refuses_who_may_not_read_the_run(workflow_make, q_sync, owner, client):
    agent = Agent.objects.create(slug="other-agent", name="Other")
    run = run_start(workflow_make("talk", STEPS), {}, requested_by=owner)
    _, bound = api_key_create(owner=owner, name="bound", scopes=["read"], agent=agent)
    _, no_read = api_key_create(owner=owner, name="runs only", scopes=["run"])
    _, good = api_key_create(owner=owner, name="reader", scopes=["read"])
    stranger = get_user_model().objects.create_user("stranger", password="pw-12345678")
    url = f"/api/workflow-runs/{run.pk}/events"

    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {bound}").status_code == 403
    # An agent's key sees its agent's runs only, in the run's other endpoints too.
    detail = f"/api/workflow-runs/{run.pk}"
    assert client.get(detail, HTTP_AUTHORIZATION=f"Bearer {bound}").status_code == 403
    listed = client.get("/api/workflow-runs/", HTTP_AUTHORIZATION=f"Bearer {bound}").json()
    assert listed["count"] == 0
    assert (
        client.get("/api/workflow-runs/", HTTP_AUTHORIZATION=f"Bearer {good}").json()["count"] == 1
    )
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {no_read}").status_code == 403
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200
    refused = client.get("/api/workflow-runs/999999/events", HTTP_AUTHORIZATION=f"Bearer {good}")
    assert refused.status_code == 404
    bad = client.get(f"{url}?after=-1", HTTP_AUTHORIZATION=f"Bearer {good}")
    assert bad.status_code == 422
    assert "after" in bad.content.decode()
    client.force_login(stranger)
    assert client.get(url).status_code == 403


def test_writers_racing_on_one_subject_get_every_number_once():
    subject = Subject("run", 424242)
    writers, each = 3, 40  # (more threads would grow the PostgreSQL pool other tests count)
    errors = []

    def write() -> None:
        try:
            for _ in range(each):
                event_record(subject, "log", lines=["x"])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    written = Event.objects.filter(subject="run", subject_id=424242)
    seqs = sorted(written.values_list("seq", flat=True))
    assert seqs == list(range(1, writers * each + 1))


async def test_an_event_the_layer_never_delivered_is_read_back_from_the_table(
    workflow_make, owner, monkeypatch
):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from atom_site.asgi import application
    from atom_site.events import publisher
    from atom_site.events.read import last_seq
    from workflows.engine.states import run_end

    workflow = await sync_to_async(workflow_make)("talk", STEPS)
    run = await sync_to_async(run_start)(workflow, {}, requested_by=owner)  # no worker: queued
    _, token = await sync_to_async(api_key_create)(owner=owner, name="k", scopes=["read"])
    seen = await sync_to_async(last_seq)(Subject("run", run.pk))
    socket = WebsocketCommunicator(application, f"/ws/runs/{run.pk}/?after={seen}&key={token}")
    assert (await socket.connect())[0]
    # A worker killed between its commit and its publish: the events are written, never sent.
    monkeypatch.setattr(publisher, "publish", lambda group, payload: None)

    await sync_to_async(event_record)(Subject("run", run.pk), "log", step="talk", lines=["hi"])
    await sync_to_async(run_end)(run=run, status="cancelled", error_type="Cancelled")

    log = await socket.receive_json_from(timeout=10)
    assert (log["type"], log["seq"], log["lines"]) == ("event", seen + 1, ["hi"])
    messages = [await socket.receive_json_from(timeout=10) for _ in range(4)]
    assert [(m["type"], m.get("kind"), m.get("status")) for m in messages] == [
        ("event", "step", "cancelled"),
        ("event", "step", "cancelled"),
        ("event", "run", "cancelled"),
        ("end", None, None),
    ]
    assert [m["seq"] for m in messages] == [seen + 2, seen + 3, seen + 4, seen + 4]
    assert (await socket.receive_output(timeout=5))["code"] == 1000


def test_more_events_than_one_insert_holds_are_all_kept_in_order_with_their_data():
    subject = Subject("run", 515151)
    lines = ["línea", "ü\u2028"]
    entries = [("log", {"step": "s", "lines": lines, "n": n}) for n in range(250)]

    with transaction.atomic():
        messages = events_record(subject, entries)

    rows = list(Event.objects.filter(subject="run", subject_id=515151).order_by("seq"))
    assert [row.seq for row in rows] == list(range(1, 251))
    assert [row.data for row in rows] == [fields for _, fields in entries]
    assert [row.as_message() for row in rows] == messages
    assert events_record(subject, [("log", {"lines": ["next"]})])[0]["seq"] == 251
