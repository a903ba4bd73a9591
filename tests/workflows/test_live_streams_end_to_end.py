"""Live progress end to end: the web server and a django-q2 cluster as processes, a real websocket
client. A run started over the API with a key streams every event in order; a reconnect with
`after` gets exactly what it missed; bad credentials are refused with their close codes; an
install job's log and a queued skill run stream too; `/ws/events/` serves the public catalog
group alone."""

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
import requests
from django.contrib.auth import get_user_model
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from atom_site.keys import api_key_create
from skills.models import Agent
from tests.processes import qcluster, web_server

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHATTY = [
    {"id": "talk", "skill": "chatty", "params": {"lines": 30, "per_second": 20}},
    {"id": "after", "skill": "echo", "params": {"value": 1}, "depends_on": ["talk"]},
]


@pytest.fixture
def web(process_env, tmp_path) -> Iterator[str]:
    """The web server on a free port against this test's database and layer; its host:port."""
    with web_server(process_env, tmp_path / "web.log") as host:
        yield host


@pytest.fixture
def cluster(process_env, engine_skills) -> Iterator[subprocess.Popen]:
    with qcluster(process_env, ATOM_Q_WORKERS="2", ATOM_SANDBOX="none") as process:
        yield process


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("owner", password="pw-12345678")


@pytest.fixture
def token(owner) -> str:
    return api_key_create(owner=owner, name="script", scopes=["read", "run", "install"])[1]


def api(host: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    response = requests.request(
        method,
        f"http://{host}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code < 300, response.text
    return response.json()


def receive_all(url: str, *, headers: dict | None = None, stop_after: int | None = None):
    """Every message until the server closes (or `stop_after` messages); and the close code."""
    messages = []
    with connect(url, additional_headers=headers or {}, open_timeout=30) as socket_:
        try:
            while stop_after is None or len(messages) < stop_after:
                messages.append(json.loads(socket_.recv(timeout=60)))
        except ConnectionClosed:
            pass
        code = socket_.close_code
    return messages, code


def close_code_of(url: str, *, headers: dict | None = None) -> int:
    with connect(url, additional_headers=headers or {}, open_timeout=30) as socket_:
        with pytest.raises(ConnectionClosed):
            socket_.recv(timeout=30)
        return socket_.close_code


def http_events(host: str, path: str, token: str) -> list[dict]:
    return api(host, "GET", f"{path}?after=0", token)["items"]


def test_a_run_started_over_the_api_streams_every_event_in_order(
    workflow_make, cluster, web, token, owner, client, tmp_path
):
    workflow_make("talk", CHATTY)
    run = api(web, "POST", "/api/workflows/talk/runs", token, {"inputs": {}})
    assert (run["page_url"], run["ws_url"]) == (f"/runs/{run['id']}/", f"/ws/runs/{run['id']}/")
    assert run["events_url"] == f"/api/workflow-runs/{run['id']}/events"

    messages, code = receive_all(f"ws://{web}{run['ws_url']}?after=0&key={token}")

    stored = http_events(web, run["events_url"], token)
    assert (code, messages[-1]["type"], len(messages) - 1) == (1000, "end", len(stored)), (
        f"received {[message.get('seq') for message in messages]}, stored "
        f"{[(event['seq'], event['kind'], event.get('status')) for event in stored]}; web server:\n"
        + (tmp_path / "web.log").read_text()[-3000:]
    )
    *events, end = messages
    assert [event["type"] for event in events] == ["event"] * len(events)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert end == {"type": "end", "seq": len(events)}
    assert (events[-1]["kind"], events[-1]["status"]) == ("run", "succeeded")
    lines = [line for event in events if event["kind"] == "log" for line in event["lines"]]
    assert lines == [f"line {index}" for index in range(30)] + ["done"]
    # The same events over HTTP.
    assert [{"type": "event", **event} for event in stored] == events

    # Without `after`: the snapshot (the run finished), then the end; with the session cookie.
    client.force_login(owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    messages, code = receive_all(f"ws://{web}{run['ws_url']}", headers={"Cookie": cookie})
    snapshot, end = messages
    assert (snapshot["type"], snapshot["seq"], snapshot["run"]["status"]) == (
        "snapshot", len(events), "succeeded"
    )  # fmt: skip
    assert [(step["step"], step["status"]) for step in snapshot["steps"]] == [
        ("talk", "succeeded"), ("after", "succeeded")
    ]  # fmt: skip
    assert (end, code) == ({"type": "end", "seq": len(events)}, 1000)


def test_a_reconnect_with_after_receives_exactly_the_missed_events(
    workflow_make, cluster, web, token
):
    workflow_make("talk", CHATTY)
    run = api(web, "POST", "/api/workflows/talk/runs", token, {"inputs": {}})
    url = f"ws://{web}{run['ws_url']}"

    first, _ = receive_all(f"{url}?after=0", headers={"X-API-Key": token}, stop_after=4)
    seen = first[-1]["seq"]
    rest, code = receive_all(f"{url}?after={seen}", headers={"X-API-Key": token})

    *missed, end = rest
    received = [message["seq"] for message in first + missed]
    stored = http_events(web, run["events_url"], token)
    assert received == [event["seq"] for event in stored] == list(range(1, len(stored) + 1))
    assert (end["type"], code) == ("end", 1000)
    assert seen == 4
    assert len(missed) > 5  # the connection dropped mid-run: the log was still to come


def test_each_bad_credential_is_refused_with_its_close_code(workflow_make, web, owner, token):
    agent = Agent.objects.create(slug="other-agent", name="Other")
    workflow_make("talk", CHATTY)
    run = api(web, "POST", "/api/workflows/talk/runs", token, {"inputs": {}})
    url = f"ws://{web}/ws/runs/{run['id']}/"
    _, bound = api_key_create(owner=owner, name="bound", scopes=["read"], agent=agent)
    _, no_read = api_key_create(owner=owner, name="no read", scopes=["run"])

    assert close_code_of(url) == 4401
    assert close_code_of(f"{url}?key=atom_000000000000_{'x' * 43}") == 4401
    assert close_code_of(url, headers={"Authorization": f"Bearer {bound}"}) == 4403
    assert close_code_of(f"{url}?key={no_read}") == 4403
    assert close_code_of(f"ws://{web}/ws/runs/999999/?key={token}") == 4404
    assert close_code_of(f"ws://{web}/ws/installs/999999/?key={token}") == 4404
    assert close_code_of(f"ws://{web}/ws/skill-runs/999999/?key={token}") == 4404
    assert close_code_of(f"{url}?key={token}&after=-1") == 4400
    # A browser page of another site may not open one with the user's cookie.
    with pytest.raises(Exception, match="403"):
        connect(f"{url}?key={token}", additional_headers={"Origin": "http://evil.example"})

    # /ws/events/ relays the public catalog group alone: a run's group is refused.
    assert close_code_of(f"ws://{web}/ws/events/live.run.{run['id']}/") == 4403
    with connect(f"ws://{web}/ws/events/skills/", open_timeout=30) as public:
        with pytest.raises(TimeoutError):
            public.recv(timeout=0.5)  # open, and quiet


def test_an_install_job_and_a_queued_skill_run_stream_their_logs(
    engine_skills, cluster, web, token
):
    job = api(web, "POST", "/api/installs/", token, {"skill": "chatty"})
    messages, code = receive_all(f"ws://{web}/ws/installs/{job['id']}/?after=0&key={token}")
    *events, end = messages
    assert code == 1000
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert (events[-1]["kind"], events[-1]["status"]) == ("install", "succeeded")
    assert any(event["kind"] == "log" and event["lines"] for event in events)
    assert end == {"type": "end", "seq": len(events)}
    assert http_events(web, f"/api/installs/{job['id']}/events", token) == [
        {key: value for key, value in event.items() if key != "type"} for event in events
    ]

    run = api(
        web, "POST", "/api/skills/chatty/run", token, {"params": {"lines": 2}, "queued": True}
    )
    messages, code = receive_all(f"ws://{web}/ws/skill-runs/{run['id']}/?after=0&key={token}")
    *events, end = messages
    assert [(event["kind"], event.get("status")) for event in events] == [
        ("skill_run", "queued"), ("skill_run", "running"), ("log", None), ("skill_run", "succeeded")
    ]  # fmt: skip
    assert events[2]["lines"] == ["line 0", "line 1", "done"]
    assert (end, code) == ({"type": "end", "seq": 4}, 1000)
