"""The live run page in a real browser: a run carried out by a django-q2 cluster turns its
nodes green on the page without a reload, and a 100,000-line log leaves the page's log
bounded (the last 2,000 lines, in the DOM and in memory)."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from atom_site.events.record import Subject, log_lines_add, log_lines_flush
from skills.catalog.importer import SkillSource, skills_import
from tests.pages.browser import page_check, watching
from tests.processes import qcluster
from tests.skills.conftest import skill_source
from workflows.engine import run_cancel, run_start
from workflows.models import WorkflowRun
from workflows.services import workflow_save

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.timeout(240),
]

GATE_BODY = (
    "import os\n"
    "import time\n\n\n"
    "def run(gate: str = '', text: str = '') -> dict:\n"
    "    while not os.path.exists(gate):\n"
    "        time.sleep(0.05)\n"
    "    print('the gate is open')\n"
    "    return {'text': text}\n"
)
LOG_LINES = 100_000
KEPT_LINES = 2_000


@pytest.fixture
def gated_workflow(tmp_path: Path):
    """gate (waits for a file the test creates) → shout and count, in parallel."""
    path = tmp_path / "wait-gate.py"
    path.write_text(skill_source("wait-gate", body=GATE_BODY, extra="# timeout = 60\n"))
    shout = tmp_path / "echo-shout.py"
    shout.write_text(skill_source("echo-shout"))
    skills_import(sources=[SkillSource.from_path(path), SkillSource.from_path(shout)], approve=True)
    definition = {
        "name": "Gated",
        "slug": "gated",
        "inputs": {"type": "object", "properties": {"gate": {"type": "string"}}},
        "steps": [
            {"id": "gate", "skill": "wait-gate", "params": {"gate": {"$ref": "inputs.gate"}}},
            {"id": "shout", "skill": "echo-shout", "params": {"text": "hi"},
             "depends_on": ["gate"]},
            {"id": "count", "skill": "echo-shout", "params": {"text": "1 2"},
             "depends_on": ["gate"]},
        ],
    }  # fmt: skip
    return workflow_save(definition=definition).workflow


@pytest.fixture
def cluster(process_env, gated_workflow):
    with qcluster(process_env, ATOM_Q_WORKERS="2", ATOM_SANDBOX="none") as process:
        yield process


def statuses(page) -> dict[str, str]:
    return page.eval_on_selector_all(
        "#run-dag g.step",
        "boxes => Object.fromEntries(boxes.map(b => [b.dataset.step, b.dataset.status]))",
    )


def test_the_run_page_shows_the_nodes_succeed_without_a_reload(
    signed_in, web, gated_workflow, cluster, staff_member, tmp_path
):
    gate = tmp_path / "gate"
    run = run_start(gated_workflow, {"gate": str(gate)}, requested_by=staff_member)
    page = signed_in

    with watching(page) as problems:
        page.goto(f"{web}/runs/{run.pk}/", wait_until="networkidle")
        page.evaluate("window.loadedOnce = true")
        assert statuses(page)["shout"] == "pending"
        page.wait_for_function("document.body.dataset.live === 'websocket'")
        gate.touch()
        page.wait_for_function(
            "[...document.querySelectorAll('#run-dag g.step')]"
            ".every(b => b.dataset.status === 'succeeded')",
            timeout=120_000,
        )
        page.wait_for_function("document.body.dataset.live === 'ended'")

    assert page.evaluate("window.loadedOnce") is True  # the same document: no reload
    assert statuses(page) == {"gate": "succeeded", "shout": "succeeded", "count": "succeeded"}
    assert page.inner_text("#run-status") == "succeeded"
    assert page.locator("#run-steps tr[data-step=gate] .attempts").inner_text() == "1 / 1"
    assert page.locator("#run-steps tr[data-step=gate] .duration").inner_text().endswith(" ms")
    assert "the gate is open" in page.inner_text("#step-log")  # the gate step is selected
    assert page.locator("#run-cancel").is_disabled()
    assert problems.all() == []
    assert WorkflowRun.objects.get(pk=run.pk).status == "succeeded"


def test_a_100000_line_log_stays_bounded_on_the_page(signed_in, web, gated_workflow, staff_member):
    run = run_start(gated_workflow, {"gate": "/nonexistent"}, requested_by=staff_member)
    page = signed_in
    page.goto(f"{web}/runs/{run.pk}/", wait_until="networkidle")
    page.wait_for_function("document.body.dataset.live === 'websocket'")

    subject = Subject("run", run.pk)
    for start in range(0, LOG_LINES, 10_000):
        log_lines_add(subject, [f"line {n}" for n in range(start, start + 10_000)], step="gate")
        log_lines_flush(subject)

    page.wait_for_function(
        f"document.getElementById('log-count').textContent.includes('{LOG_LINES:,}')",
        timeout=120_000,
    )
    text = page.inner_text("#step-log")
    assert page.get_attribute("#step-log", "data-lines") == str(KEPT_LINES)
    assert text.splitlines() == [f"line {n}" for n in range(LOG_LINES - KEPT_LINES, LOG_LINES)]
    assert page.inner_text("#log-count") == f"the last {KEPT_LINES:,} of {LOG_LINES:,} lines"


def test_the_run_page_is_refused_to_another_user(gated_workflow, staff_member):
    run = run_start(gated_workflow, {"gate": "/nonexistent"}, requested_by=staff_member)
    other = get_user_model().objects.create_user("someone-else", password="x")

    client = Client()
    client.force_login(other)

    assert client.get(f"/runs/{run.pk}/").status_code == 403
    assert Client().get(f"/runs/{run.pk}/").status_code == 302  # to the sign-in page


def test_the_run_page_renders_cleanly(signed_in, web, gated_workflow, staff_member):
    run = run_start(gated_workflow, {"gate": "/nonexistent"}, requested_by=staff_member)

    assert page_check(signed_in, f"{web}/runs/{run.pk}/", "live run page") == []


def test_when_its_websocket_keeps_dropping_the_page_polls_the_events(
    signed_in, web, gated_workflow, staff_member
):
    run = run_start(gated_workflow, {"gate": "/nonexistent"}, requested_by=staff_member)
    page = signed_in
    dropped = []

    def drop(socket) -> None:
        dropped.append(socket.url)
        socket.close(code=1011, reason="dropped by the test")

    page.route_web_socket(re.compile(r".*/ws/runs/\d+/.*"), drop)
    page.goto(f"{web}/runs/{run.pk}/", wait_until="networkidle")
    page.wait_for_function("document.body.dataset.live === 'polling'")

    run_cancel(run=run)

    page.wait_for_selector("#run-status.status-cancelled")
    page.wait_for_function("document.body.dataset.live === 'ended'")
    assert len(dropped) == 3
    assert statuses(page) == {"gate": "cancelled", "shout": "cancelled", "count": "cancelled"}
