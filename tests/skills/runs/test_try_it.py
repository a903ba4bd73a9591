"""The admin's "try it" form runs a skill through the same domain function as the API."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from skills.models import Skill, SkillRun, SkillVersion
from skills.runs.plan import params_example

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("catalog_runtime"),
]

EXAMPLES = (
    "#\n"
    "# [tool.atom.inputs]\n"
    '# type = "object"\n'
    '# required = ["text"]\n'
    "#\n"
    "# [tool.atom.inputs.properties.text]\n"
    '# type = "string"\n'
    '# examples = ["hello"]\n'
    "#\n"
    "# [tool.atom.inputs.properties.times]\n"
    '# type = "integer"\n'
    "# default = 2\n"
)
REPEAT = "def run(text, times=2):\n    print('repeating')\n    return [text.upper()] * times\n"


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", password="pw-12345678")
    client.force_login(user)
    return client


def try_url(skill: Skill) -> str:
    return reverse("admin:skills_skill_try", args=[skill.pk])


def test_the_skill_page_links_to_the_form_prefilled_from_the_schema(admin_client, publish):
    skill = publish("repeat", REPEAT, extra=EXAMPLES)

    page = admin_client.get(reverse("admin:skills_skill_change", args=[skill.pk]))
    form = admin_client.get(try_url(skill))

    assert try_url(skill) in page.content.decode()
    assert form.context["form"].initial["params"] == {"text": "hello", "times": 2}
    assert "&quot;times&quot;: 2" in form.content.decode()


def test_a_run_shows_its_result_output_and_timings(admin_client, ready):
    skill = ready("repeat", REPEAT, extra=EXAMPLES)

    response = admin_client.post(try_url(skill), {"params": '{"text": "hi", "times": 3}'})

    run = response.context["run"]
    assert (run.status, run.result, run.stdout) == ("succeeded", ["HI", "HI", "HI"], "repeating\n")
    assert run.requested_by.username == "admin"
    html = response.content.decode()
    assert f"Run {run.pk}: succeeded" in html
    assert json.dumps(["HI", "HI", "HI"], indent=2).replace('"', "&quot;") in html
    assert "end to end" in html
    assert Skill.objects.get(pk=skill.pk).run_count == 1


def test_a_failing_skill_shows_its_error_and_traceback(admin_client, ready):
    skill = ready("repeat", "def run(text):\n    raise ValueError('no ' + text)\n", extra="")

    html = admin_client.post(try_url(skill), {"params": '{"text": "way"}'}).content.decode()

    assert "ValueError: no way (run)" in html
    assert "Traceback" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"times": 1}', "params.text: &#x27;text&#x27; is a required property"),
        ('{"text": "a", "times": "x"}', "params.times: &#x27;x&#x27; is not of type"),
    ],
)
def test_bad_params_are_refused_naming_the_field(admin_client, ready, params, message):
    skill = ready("repeat", REPEAT, extra=EXAMPLES)

    response = admin_client.post(try_url(skill), {"params": params})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["run"] is None
    assert SkillRun.objects.count() == 0
    assert Skill.objects.get(pk=skill.pk).run_count == 0


def test_params_example_prefers_the_skills_own_examples_then_the_schemas():
    schema = {"examples": [{"a": 1}], "properties": {"a": {"default": 2}}}
    with_examples = SkillVersion(inputs_schema=schema, metadata={"examples": [{"input": {"a": 0}}]})

    assert params_example(with_examples) == {"a": 0}
    assert params_example(SkillVersion(inputs_schema=schema)) == {"a": 1}
    defaults = {"properties": {"a": {"default": 2}, "b": {"type": "string"}}}
    assert params_example(SkillVersion(inputs_schema=defaults)) == {"a": 2}
    assert params_example(None) == {}
