"""Definitions through the API: create, read, change, delete, versions, and validation that
answers 200 with the analysis or 422 listing every error."""

import json

import pytest
from django.contrib.auth import get_user_model

from workflows.models import Workflow, WorkflowVersion

from .test_validation_reports_every_error import EVERY_BAD_STEP

pytestmark = pytest.mark.django_db


def post(client, url: str, body) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def put(client, url: str, body) -> object:
    return client.put(url, json.dumps(body), content_type="application/json")


def test_validate_answers_422_listing_every_error(client, catalog, definition):
    response = post(client, "/api/workflows/validate", definition(steps=EVERY_BAD_STEP))

    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "14 error(s) in the workflow definition"
    assert [(e["step"], e["field"], e["code"]) for e in body["errors"]][:5] == [
        ("dup", "id", "duplicate_id"),
        ("x", "depends_on", "unknown_dependency"),
        ("selfish", "depends_on", "self_dependency"),
        ("a", "depends_on", "cycle"),
        ("ghost", "skill", "unknown_skill"),
    ]
    assert {e["code"] for e in body["errors"]} == {
        "duplicate_id", "unknown_dependency", "self_dependency", "cycle", "unknown_skill",
        "skill_not_approved", "skill_deprecated", "unknown_version", "ref_not_upstream",
        "unknown_input", "invalid_params", "timeout_too_long",
    }  # fmt: skip
    assert Workflow.objects.count() == 0


def test_validate_answers_200_with_the_analysis(client, catalog, definition):
    response = post(client, "/api/workflows/validate", definition())

    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["slug"], body["step_count"]) == (True, "text-report", 3)
    analysis = body["analysis"]
    assert analysis["generations"] == [["first"], ["upper", "count"]]
    assert (analysis["depth"], analysis["width"]) == (2, 2)
    assert analysis["critical_path"] == ["first", "upper"]
    assert analysis["estimate"]["p50_seconds"] is None
    assert analysis["estimate"]["steps_without_data"] == ["first", "upper", "count"]


def test_a_definition_that_is_not_an_object_is_a_422(client, catalog):
    response = post(client, "/api/workflows/validate", ["steps"])
    assert response.status_code == 422


def test_100000_steps_are_refused_with_a_4xx(client, catalog, definition, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None  # the step limit refuses it, not the body size
    steps = [{"id": f"s{i}", "skill": "upper-text"} for i in range(100_000)]
    response = post(client, "/api/workflows/validate", definition(steps=steps))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"code": "too_many_steps", "step": "", "index": None, "field": "steps",
         "message": "100,000 steps; at most 10,000 are allowed (ATOM_WORKFLOW_MAX_STEPS)"}
    ]  # fmt: skip


def test_a_body_over_the_upload_limit_is_refused_with_a_4xx(client, catalog, definition):
    steps = [{"id": f"s{i}", "skill": "upper-text"} for i in range(100_000)]
    response = post(client, "/api/workflows/validate", definition(steps=steps))
    assert 400 <= response.status_code < 500


def test_create_read_and_list_a_workflow(staff_client, catalog, definition):
    created = post(staff_client, "/api/workflows/", definition())

    assert created.status_code == 201
    assert created.json()["change"] == "created"
    detail = staff_client.get("/api/workflows/text-report").json()
    assert (detail["slug"], detail["name"], detail["version"]) == (
        "text-report", "Text report", "1.0.0"
    )  # fmt: skip
    assert [s["id"] for s in detail["definition"]["steps"]] == ["first", "upper", "count"]
    assert detail["definition"]["steps"][2]["retries"] == 0
    listing = staff_client.get("/api/workflows/").json()
    assert [item["slug"] for item in listing["items"]] == ["text-report"]
    version = WorkflowVersion.objects.get()
    assert version.created_by.username == "editor"
    assert version.step_count == 3


def test_a_new_workflow_whose_name_makes_an_existing_slug_is_a_409(staff_client, catalog,
                                                                  definition):  # fmt: skip
    post(staff_client, "/api/workflows/", definition())
    clash = definition(name="Text Report")
    del clash["slug"]
    response = post(staff_client, "/api/workflows/", clash)

    assert response.status_code == 409
    assert "a workflow 'text-report' exists" in response.json()["detail"]
    assert WorkflowVersion.objects.count() == 1


def test_put_of_an_unchanged_definition_writes_nothing(staff_client, catalog, definition):
    post(staff_client, "/api/workflows/", definition())
    before = Workflow.objects.get().updated_at

    response = put(staff_client, "/api/workflows/text-report", definition())

    assert response.json()["change"] == "unchanged"
    assert WorkflowVersion.objects.count() == 1
    assert Workflow.objects.get().updated_at == before


def test_put_of_a_changed_definition_makes_a_new_version(staff_client, catalog, definition):
    post(staff_client, "/api/workflows/", definition())
    changed = definition(description="Now with a new description.")

    response = put(staff_client, "/api/workflows/text-report", changed)

    assert response.status_code == 200
    assert response.json()["change"] == "new_version"
    versions = staff_client.get("/api/workflows/text-report/versions").json()["items"]
    assert [(v["version"], v["is_current"]) for v in versions] == [
        (f"1.0.0+{versions[0]['content_hash'][:8]}", True),
        ("1.0.0", False),
    ]
    bumped = put(staff_client, "/api/workflows/text-report", definition(version="1.1.0"))
    assert bumped.json()["workflow"]["version"] == "1.1.0"


def test_put_that_names_another_workflow_is_refused(staff_client, catalog, definition):
    post(staff_client, "/api/workflows/", definition())
    response = put(staff_client, "/api/workflows/text-report", definition(slug="other"))
    assert response.status_code == 409
    assert Workflow.objects.get().slug == "text-report"


def test_put_of_an_invalid_definition_is_a_422_and_changes_nothing(staff_client, catalog,
                                                                   definition):  # fmt: skip
    post(staff_client, "/api/workflows/", definition())
    response = put(staff_client, "/api/workflows/text-report", definition(steps=EVERY_BAD_STEP))
    assert response.status_code == 422
    assert len(response.json()["errors"]) == 14
    assert WorkflowVersion.objects.count() == 1


def test_delete_removes_the_workflow_and_its_versions(staff_client, catalog, definition):
    post(staff_client, "/api/workflows/", definition())
    assert staff_client.delete("/api/workflows/text-report").status_code == 204
    assert (Workflow.objects.count(), WorkflowVersion.objects.count()) == (0, 0)


def test_an_unknown_slug_is_a_404(client, staff_client, catalog):
    assert client.get("/api/workflows/nope").status_code == 404
    assert client.get("/api/workflows/nope/versions").status_code == 404
    assert post(client, "/api/workflows/nope/validate", {}).status_code == 404
    assert put(staff_client, "/api/workflows/nope", {"name": "x"}).status_code == 404
    assert staff_client.delete("/api/workflows/nope").status_code == 404


def test_a_stored_workflow_is_validated_against_todays_catalog(staff_client, catalog,
                                                              definition):  # fmt: skip
    from skills.models import Skill, SkillStatus

    post(staff_client, "/api/workflows/", definition())
    assert post(staff_client, "/api/workflows/text-report/validate", {}).status_code == 200

    Skill.objects.filter(slug="count-words").update(status=SkillStatus.DEPRECATED)
    response = post(staff_client, "/api/workflows/text-report/validate", {})

    assert response.status_code == 422
    assert [(e["step"], e["code"]) for e in response.json()["errors"]] == [
        ("count", "skill_deprecated")
    ]


def test_reads_are_public_and_writes_need_a_signed_in_staff_user(client, catalog, definition):
    assert client.get("/api/workflows/").status_code == 200
    assert post(client, "/api/workflows/", definition()).status_code == 401
    assert put(client, "/api/workflows/text-report", definition()).status_code == 401
    assert client.delete("/api/workflows/text-report").status_code == 401

    someone = get_user_model().objects.create_user("someone", password="pw")
    client.force_login(someone)
    assert post(client, "/api/workflows/", definition()).status_code == 403
    assert Workflow.objects.count() == 0
