"""Pages that follow a queued single-skill run (/ws/skill-runs/<id>/) and the admin's list of
workflow runs (/ws/runs/<id>/) change as the run does, without anyone reloading them."""

import pytest

from atom_site.demo import demo_load
from skills.models import Skill, SkillRun
from skills.runs.records import skill_run_start
from skills.runs.tasks import run_skill_task
from tests.pages.browser import watching
from workflows.engine import run_cancel, run_start
from workflows.library import workflows_demo_load
from workflows.models import Workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.timeout(240),
]


@pytest.fixture
def catalog(staff_member) -> Skill:
    demo_load()
    return Skill.objects.select_related("current_version").get(slug="change-case")


def test_the_marketplace_run_page_follows_a_queued_run_to_its_outcome(
    signed_in, web, catalog, staff_member
):
    run = skill_run_start(skill=catalog, params={"text": "liveRun"}, user=staff_member, queued=True)
    page = signed_in

    with watching(page) as problems:
        page.goto(f"{web}/marketplace/runs/{run.pk}/", wait_until="networkidle")
        page.wait_for_function("document.body.dataset.live === 'websocket'")
        assert page.inner_text("#run-status") == "Queued"
        assert run_skill_task(run.pk) == "succeeded"
        page.wait_for_selector("#run-status.status-succeeded", timeout=60_000)

    assert '"snake": "live_run"' in page.inner_text("pre.result")
    assert problems.all() == []


def test_try_it_in_the_admin_follows_a_queued_run_to_its_outcome(signed_in, web, catalog):
    page = signed_in
    page.goto(f"{web}/admin/skills/skill/{catalog.pk}/try/")
    page.fill("textarea[name=params]", '{"text": "tryItLive"}')

    with watching(page) as problems:
        page.click("input[type=submit][value=Run]")
        page.wait_for_selector("#run-live")
        run = SkillRun.objects.get()
        assert run.is_queued  # its environment was not installed yet
        assert page.url.endswith(f"/try/?run={run.pk}")
        page.wait_for_function("document.body.dataset.live === 'websocket'")
        assert "Queued as run" in page.inner_text(".messagelist")
        assert run_skill_task(run.pk) == "succeeded"
        page.wait_for_selector("#run-outcome", timeout=60_000)

    assert page.inner_text("#run-outcome h2") == f"Run {run.pk}: succeeded"
    assert '"kebab": "try-it-live"' in page.inner_text("#run-result")
    assert problems.all() == []


def test_the_admin_run_list_shows_a_run_change_without_a_reload(
    signed_in, web, catalog, staff_member
):
    workflows_demo_load(actor=staff_member)
    workflow = Workflow.objects.get(slug="name-to-identifiers")
    run = run_start(workflow, {"name": "Ada"}, requested_by=staff_member)
    page = signed_in
    page.goto(f"{web}/admin/workflows/workflowrun/", wait_until="networkidle")
    page.evaluate("window.loadedOnce = true")
    status = page.locator("#result_list tbody tr td.field-status").first
    assert status.inner_text() == "Queued"
    page.wait_for_function("document.body.dataset.live === 'websocket'")

    run_cancel(run=run)

    page.wait_for_function(
        "document.querySelector('#result_list tbody tr td.field-status').textContent"
        " === 'Cancelled'"
    )
    assert page.evaluate("window.loadedOnce") is True
