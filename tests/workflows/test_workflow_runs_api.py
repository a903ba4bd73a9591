"""Workflow runs through the API, the admin and the `workflows run` command: each calls the same
engine functions; the steps run at once in this process (django-q2 sync) unless said."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from skills.models import Skill, SkillStatus
from workflows.models import StepRun, WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = [
    {"id": "a", "skill": "add", "params": {"a": {"$ref": "inputs.n"}, "b": 1}},
    {"id": "b", "skill": "echo", "params": {"value": {"$ref": "steps.a.output.sum"}},
     "depends_on": ["a"]},
]  # fmt: skip
INPUTS = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("runner", password="pw-12345678")
    client.force_login(user)
    return client


@pytest.fixture
def workflow(workflow_make):
    return workflow_make("api-flow", STEPS, inputs=INPUTS)


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_a_run_started_through_the_api_is_followed_to_its_steps(user_client, workflow, q_sync):
    response = post(user_client, "/api/workflows/api-flow/runs", {"inputs": {"n": 41}})

    # 202 while it runs on the workers; here its steps ran in the request, so it is finished: 200.
    assert response.status_code == 200
    body = response.json()
    assert body["ws_url"] == f"/ws/runs/{body['id']}/"
    detail = user_client.get(f"/api/workflow-runs/{body['id']}").json()
    assert detail["status"] == "succeeded"
    assert [(s["step_id"], s["status"], s["attempt"], s["output"]) for s in detail["steps"]] == [
        ("a", "succeeded", 1, {"sum": 42}),
        ("b", "succeeded", 1, {"value": 42, "label": ""}),
    ]
    # (PostgreSQL's jsonb orders keys its own way.)
    assert json.loads(detail["steps"][1]["output_preview"]) == {"value": 42, "label": ""}
    listed = user_client.get("/api/workflow-runs/?workflow=api-flow&status=succeeded").json()
    assert (listed["count"], listed["items"][0]["id"]) == (1, body["id"])
    assert user_client.get("/api/workflow-runs/?status=failed").json()["count"] == 0


def test_inputs_breaking_the_schema_are_a_422_naming_the_field(user_client, workflow):
    response = post(user_client, "/api/workflows/api-flow/runs", {"inputs": {"n": "x"}})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "inputs.n: 'x' is not of type 'integer'",
        "errors": [{"field": "inputs.n", "message": "inputs.n: 'x' is not of type 'integer'"}],
    }
    assert WorkflowRun.objects.count() == 0


def test_a_deprecated_skill_is_a_409_and_nothing_is_created(user_client, workflow):
    Skill.objects.filter(slug="echo").update(status=SkillStatus.DEPRECATED)

    response = post(user_client, "/api/workflows/api-flow/runs", {"inputs": {"n": 1}})

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "skill_deprecated"
    assert (WorkflowRun.objects.count(), StepRun.objects.count()) == (0, 0)


def test_cancel_twice_is_a_409_and_retrying_a_running_run_is_a_409(user_client, workflow):
    run_id = post(user_client, "/api/workflows/api-flow/runs", {"inputs": {"n": 1}}).json()["id"]

    retry = post(user_client, f"/api/workflow-runs/{run_id}/retry")
    first = post(user_client, f"/api/workflow-runs/{run_id}/cancel")
    second = post(user_client, f"/api/workflow-runs/{run_id}/cancel")

    assert retry.status_code == 409
    assert retry.json() == {
        "detail": f"run {run_id} is queued: only a failed or cancelled run can be retried",
        "errors": [],
    }
    assert (first.status_code, first.json()["status"]) == (200, "cancelled")
    assert second.status_code == 409
    assert second.json() == {
        "detail": f"run {run_id} is already cancelled: nothing to cancel",
        "errors": [],
    }


def test_another_users_run_is_forbidden(client, user_client, workflow):
    run_id = post(user_client, "/api/workflows/api-flow/runs", {"inputs": {"n": 1}}).json()["id"]
    other = get_user_model().objects.create_user("other", password="pw-12345678")
    client.force_login(other)

    assert client.get(f"/api/workflow-runs/{run_id}").status_code == 403
    assert post(client, f"/api/workflow-runs/{run_id}/cancel").status_code == 403
    assert client.get("/api/workflow-runs/").json()["count"] == 0


def test_the_command_runs_a_workflow_and_prints_a_summary(workflow, capsys):
    call_command("workflows", "run", "api-flow", "--inputs", '{"n": 2}', "--here")

    out = capsys.readouterr().out
    assert "  a: succeeded (attempt 1)" in out
    assert (
        out.strip().splitlines()[-1].startswith(f"run {WorkflowRun.objects.get().pk} succeeded in ")
    )
    assert out.strip().endswith("2 steps (2 succeeded; 0 cached)")


def test_the_command_names_the_field_of_bad_inputs(workflow):
    with pytest.raises(CommandError, match=r"inputs\.n: 'x' is not of type 'integer'"):
        call_command("workflows", "run", "api-flow", "--inputs", '{"n": "x"}', "--here")


def test_the_admin_lists_runs_with_steps_and_cancels_them(admin_client, workflow):
    from workflows.engine import run_start

    run = run_start(workflow, {"n": 3})

    page = admin_client.get(f"/admin/workflows/workflowrun/{run.pk}/change/")
    assert page.status_code == 200
    assert b"0 / 1" in page.content  # step a: attempts / allowed, not run yet (no worker)
    listed = admin_client.get("/admin/workflows/workflowrun/?status__exact=queued")
    assert listed.status_code == 200
    response = admin_client.post(
        "/admin/workflows/workflowrun/",
        {"action": "cancel_selected", "_selected_action": [run.pk]},
        follow=True,
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_runs_are_listed_in_cursor_pages(user_client, workflow):
    from workflows.engine import run_start

    user = get_user_model().objects.get(username="runner")
    started = [run_start(workflow, {"n": n}, requested_by=user).pk for n in range(5)]

    first = user_client.get("/api/workflow-runs/?cursor=&page_size=2").json()
    pages = [first]
    while pages[-1]["next"]:
        pages.append(
            user_client.get(f"/api/workflow-runs/?cursor={pages[-1]['next']}&page_size=2").json()
        )

    assert [item["id"] for page in pages for item in page["items"]] == started[::-1]
    assert [(page["count"], len(page["items"])) for page in pages] == [(None, 2), (None, 2),
                                                                      (None, 1)]  # fmt: skip
    numbered = user_client.get("/api/workflow-runs/?page=2&page_size=2").json()
    assert (numbered["count"], numbered["items"]) == (5, pages[1]["items"])
