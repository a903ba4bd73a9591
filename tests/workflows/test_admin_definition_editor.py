"""The admin's definition editor: validated on save with every error shown per step, and the
analysis (generations, critical path, estimate, the DAG as SVG) on the change page."""

import json

import pytest

from workflows.models import Workflow, WorkflowVersion

from .test_validation_reports_every_error import EVERY_BAD_STEP

pytestmark = pytest.mark.django_db


def add(client, definition: dict):
    return client.post(
        "/admin/workflows/workflow/add/",
        {"definition": json.dumps(definition), "status": "active",
         "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"},
    )  # fmt: skip


def test_saving_an_invalid_definition_shows_every_error_per_step(staff_client, catalog,
                                                                 definition):  # fmt: skip
    response = add(staff_client, definition(steps=EVERY_BAD_STEP))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["definition"]
    assert len(errors) == 14
    assert errors[0] == "step 'dup': id: duplicate step id (first used by steps[0])"
    assert "step 'a': depends_on: cycle: a → b → c → a" in errors
    assert "step 'slow': timeout_seconds: 100000 s is over the maximum of 600 s" in errors
    assert "cycle: a → b → c → a" in response.content.decode()
    assert Workflow.objects.count() == 0


def test_saving_a_valid_definition_creates_the_workflow_and_its_version(staff_client, catalog,
                                                                       definition):  # fmt: skip
    response = add(staff_client, definition())

    assert response.status_code == 302
    workflow = Workflow.objects.get()
    assert (workflow.slug, workflow.current_version.version) == ("text-report", "1.0.0")
    assert workflow.current_version.created_by.username == "editor"


def test_a_new_workflow_whose_slug_exists_is_refused(staff_client, catalog, definition):
    add(staff_client, definition())
    response = add(staff_client, definition(description="another"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["definition"] == [
        "slug: a workflow 'text-report' exists; change that one, or choose another name"
    ]
    assert WorkflowVersion.objects.count() == 1


def test_the_change_page_shows_the_analysis_and_the_dag(staff_client, catalog, definition):
    add(staff_client, definition())
    workflow = Workflow.objects.get()

    page = staff_client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()

    assert "Critical path:</strong> first → upper" in page
    assert "<li>first</li><li>upper, count</li>" in page
    assert "p50 no data" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="workflow-dag"' in page
    assert page.count('<g class="step"') == 3
    assert "1.0.0" in page  # the versions inline


def test_editing_the_definition_makes_a_new_version(staff_client, catalog, definition):
    add(staff_client, definition())
    workflow = Workflow.objects.get()
    form = {
        "definition": json.dumps(definition(version="2.0.0")),
        "status": "active",
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "1",
        "versions-0-id": str(workflow.current_version_id),
        "versions-0-workflow": str(workflow.pk),
    }
    response = staff_client.post(f"/admin/workflows/workflow/{workflow.pk}/change/", form)

    assert response.status_code == 302
    assert list(workflow.versions.values_list("version", flat=True).order_by("id")) == [
        "1.0.0", "2.0.0"
    ]  # fmt: skip
