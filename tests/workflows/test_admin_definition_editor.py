"""The admin's definition editor: validated on save with every error shown per step, and the
analysis (generations, critical path, estimate, the DAG as SVG) on the change page."""

import json
import re

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
    groups = response.context["adminform"].form.errors["definition"]
    # One entry per step at fault, in the steps' order, each listing that step's errors.
    titles = [re.search(r"<strong>(.*?)</strong>", group).group(1) for group in groups]
    assert titles == [
        "step &#x27;dup&#x27; (steps[1])", "step &#x27;x&#x27; (steps[2])",
        "step &#x27;selfish&#x27; (steps[3])", "step &#x27;a&#x27; (steps[4])",
        "step &#x27;ghost&#x27; (steps[7])", "step &#x27;drafty&#x27; (steps[8])",
        "step &#x27;old&#x27; (steps[9])", "step &#x27;pinned&#x27; (steps[10])",
        "step &#x27;sideways&#x27; (steps[11])", "step &#x27;asks&#x27; (steps[12])",
        "step &#x27;bad_params&#x27; (steps[13])", "step &#x27;slow&#x27; (steps[14])",
    ]  # fmt: skip
    page = response.content.decode()
    bad_params = page[page.index("step &#x27;bad_params&#x27;") :]
    bad_params = bad_params[: bad_params.index("</ul>")]
    assert re.findall(r"<li>(params\.\w+): ", bad_params) == [
        "params.extra", "params.text", "params.top"]  # fmt: skip
    assert "<li>depends_on: cycle: a → b → c → a</li>" in page
    assert "<li>timeout_seconds: 100000 s is over the maximum of 600 s</li>" in page
    assert "<li>id: duplicate step id (first used by steps[0])</li>" in page
    assert Workflow.objects.count() == 0


def test_errors_of_the_whole_definition_come_before_the_steps(staff_client, catalog, definition):
    broken = definition(name=7, steps=[{"id": "a", "skill": "upper-text", "retries": -1}])

    groups = add(staff_client, broken).context["adminform"].form.errors["definition"]

    assert [re.search(r"<strong>(.*?)</strong>", group).group(1) for group in groups] == [
        "the definition", "step &#x27;a&#x27; (steps[0])"]  # fmt: skip
    assert "<li>name: " in groups[0]
    assert "<li>retries: " in groups[1]


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
