"""The install and try buttons of the marketplace's skill page (signed-in users only)."""

import hashlib
import re
import threading
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client

from skills.models import (
    InstallJob,
    InstallJobStatus,
    Skill,
    SkillRun,
    SkillRunStatus,
    SkillVersion,
)
from tests.skills.marketplace.conftest import skill_create
from tests.skills.marketplace.test_install_cost import built_location, environment_create

SHOUT = "def run(text):\n    print('shouting', text)\n    return text.upper()\n"
TEXT_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}},
    "additionalProperties": False,
}


def page_of(slug: str) -> str:
    return f"/marketplace/skills/{slug}/"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("analyst", password="pw-12345678")


@pytest.fixture
def signed_in(client, user) -> Client:
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_anonymous_visitors_are_asked_to_sign_in_and_cannot_install(client):
    skill_create("frame-stats", requirements=["pandas"])
    html = client.get(page_of("frame-stats")).content.decode()
    assert 'href="/admin/login/?next=/marketplace/skills/frame-stats/">Sign in</a>' in html
    assert "<form" not in html.split("</header>")[1]
    response = client.post(page_of("frame-stats") + "install")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert InstallJob.objects.count() == 0


@pytest.mark.django_db
def test_signed_in_users_get_csrf_protected_install_and_try_forms(signed_in):
    skill_create("frame-stats", requirements=["pandas"])
    html = signed_in.get(page_of("frame-stats")).content.decode()
    forms = re.findall(
        r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" '
        r'name="csrfmiddlewaretoken"',
        html,
    )
    assert forms == [
        "/marketplace/skills/frame-stats/install",
        "/marketplace/skills/frame-stats/try#try",
    ]
    assert "<script" not in html


@pytest.mark.django_db
def test_a_post_without_the_csrf_token_is_refused(user):
    skill_create("frame-stats", requirements=["pandas"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(page_of("frame-stats") + "install").status_code == 403
    assert InstallJob.objects.count() == 0


@pytest.mark.django_db
def test_installing_a_built_environment_is_a_finished_cache_hit(signed_in, tmp_path):
    skill_create("frame-stats", requirements=["pandas"])
    environment = environment_create(
        ["pandas"], location=built_location(tmp_path, "env"), status="ready"
    )
    response = signed_in.post(page_of("frame-stats") + "install")
    job = InstallJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/marketplace/installs/{job.pk}/"
    assert (job.status, job.cache_hit, job.environment_id) == ("succeeded", True, environment.pk)
    assert Skill.objects.get(slug="frame-stats").install_count == 1
    html = signed_in.get(response["Location"]).content.decode()
    assert 'id="job-status">Succeeded<' in html
    assert "hit: already built here" in html
    assert 'http-equiv="refresh"' not in html
    assert "<script" not in html


@pytest.mark.django_db
def test_installing_a_new_environment_queues_a_job_the_page_follows(signed_in):
    skill = skill_create("frame-stats", requirements=["pandas"])
    response = signed_in.post(page_of("frame-stats") + "install")
    job = InstallJob.objects.get()
    assert job.status == InstallJobStatus.QUEUED
    assert list(job.skills.all()) == [skill]
    assert Skill.objects.get(slug="frame-stats").install_count == 1
    html = signed_in.get(response["Location"]).content.decode()
    assert 'id="job-status">Queued<' in html
    # Without JavaScript the page refreshes itself; with it, a local script follows the job.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert '<script src="/static/marketplace/install_job.js" defer></script>' in html
    assert f'data-ws="/ws/installs/{job.pk}/"' in html
    assert f'data-events="/api/installs/{job.pk}/events"' in html
    assert finders.find("marketplace/install_job.js")


@pytest.mark.django_db
def test_an_install_refused_by_policy_names_the_requirement_and_records_nothing(
    signed_in, settings
):
    settings.ATOM_POLICY_DENY = ["pandas"]
    skill_create("frame-stats", requirements=["pandas"])
    response = signed_in.post(page_of("frame-stats") + "install")
    assert response.status_code == 422
    assert "<b>pandas</b>" in response.content.decode()
    assert InstallJob.objects.count() == 0
    assert Skill.objects.get(slug="frame-stats").install_count == 0


@pytest.mark.django_db
def test_drafts_cannot_be_installed_or_tried_by_non_staff(signed_in):
    skill_create("frame-draft", status="draft")
    assert signed_in.post(page_of("frame-draft") + "install").status_code == 404
    assert signed_in.post(page_of("frame-draft") + "try", {"params": "{}"}).status_code == 404
    assert InstallJob.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{not json", "params</b>: not valid JSON"),
        ('{"text": "' + "x" * 70_000 + '"}', "params</b>: at most 65,536 characters"),
        ("[1, 2]", "params</b>: must be a JSON object"),
        ('{"text": 3}', "params</b>: text: 3 is not of type"),
        ("{}", "params</b>: text: &#x27;text&#x27; is a required property"),
    ],
)
def test_bad_params_are_a_400_naming_the_field_before_anything_runs(signed_in, params, message):
    skill = skill_create("shout")
    SkillVersion.objects.filter(pk=skill.current_version_id).update(inputs_schema=TEXT_SCHEMA)
    response = signed_in.post(page_of("shout") + "try", {"params": params})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Skill.objects.get(slug="shout").run_count == 0


def version_source_set(skill: Skill, source: str, **fields: object) -> None:
    """Give the skill's version this source (runners check it against the content hash), and
    build its environment: a run is carried out in-request once that is ready."""
    from skills.installer.builder import environment_for_skill_version

    content_hash = hashlib.sha256(source.encode()).hexdigest()
    SkillVersion.objects.filter(pk=skill.current_version_id).update(
        source=source, content_hash=content_hash, **fields
    )
    environment_for_skill_version(
        skill_version=SkillVersion.objects.get(pk=skill.current_version_id)
    )


@pytest.fixture
def runtime(settings, tmp_path) -> Iterator[None]:
    import skills.runtime

    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    skills.runtime.shutdown()
    yield
    skills.runtime.shutdown()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_trying_a_skill_records_a_run_and_its_page_shows_the_result_and_output(
    signed_in, user, runtime
):
    skill = skill_create("shout")
    version_source_set(skill, SHOUT, inputs_schema=TEXT_SCHEMA)
    response = signed_in.post(page_of("shout") + "try", {"params": '{"text": "hi"}'})
    run = SkillRun.objects.get()
    assert (run.skill, run.requested_by, run.params) == (skill, user, {"text": "hi"})
    assert run.status == SkillRunStatus.SUCCEEDED
    assert response.status_code == 302
    assert response["Location"] == f"/marketplace/runs/{run.pk}/"
    html = signed_in.get(response["Location"]).content.decode()
    assert '<pre class="result"><code>&quot;HI&quot;</code></pre>' in html
    assert "shouting hi" in html
    assert 'http-equiv="refresh"' not in html
    assert Skill.objects.get(slug="shout").run_count == 1
    # The environment it ran in is now warm here, and the page says so.
    assert '<b class="warm">warm here</b>' in signed_in.get(page_of("shout")).content.decode()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_failing_skill_shows_its_error(signed_in, runtime):
    skill = skill_create("broken")
    version_source_set(skill, "def run():\n    raise ValueError('no input today')\n")
    response = signed_in.post(page_of("broken") + "try", {"params": ""}, follow=True)
    html = response.content.decode()
    assert "Failed: ValueError" in html
    assert "no input today" in html


@pytest.mark.django_db
def test_a_run_whose_environment_is_not_built_is_queued_and_its_page_follows_it(signed_in):
    skill_create("frame-stats", requirements=["pandas"])
    response = signed_in.post(page_of("frame-stats") + "try", {"params": "{}"}, follow=True)
    run = SkillRun.objects.get()
    assert run.is_queued
    assert run.status == SkillRunStatus.QUEUED
    html = response.content.decode()
    assert "Queued: a worker carries it out" in html
    assert '<meta http-equiv="refresh" content="2">' in html


@pytest.mark.django_db
def test_a_run_is_shown_only_to_the_one_who_asked_and_to_staff(signed_in, user, client):
    skill = skill_create("frame-stats", requirements=["pandas"])
    run = SkillRun.objects.create(
        skill=skill,
        version=skill.current_version,
        requested_by=user,
        params={"secret": 1},
        timeout=1.0,
    )
    url = f"/marketplace/runs/{run.pk}/"
    assert "secret" in signed_in.get(url).content.decode()
    other = Client()
    other.force_login(get_user_model().objects.create_user("other", password="pw-12345678"))
    assert other.get(url).status_code == 404
    staff = Client()
    staff.force_login(
        get_user_model().objects.create_user("boss", password="pw-12345678", is_staff=True)
    )
    assert staff.get(url).status_code == 200
    assert Client().get(url)["Location"].startswith("/admin/login/")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_trying_a_skill_while_its_pool_is_full_is_a_503_saying_so(signed_in, runtime, settings):
    from skills.runs.calls import run_skill

    settings.ATOM_RUNNER_MAX = 1  # runners serving one skill version at once
    settings.ATOM_RUNNER_ACQUIRE_SECONDS = 0.3
    sleeper = skill_create("sleeper")
    version_source_set(sleeper, "import time\n\ndef run():\n    time.sleep(3)\n")
    busy = threading.Thread(target=run_skill, args=(Skill.objects.get(slug="sleeper"), {}))
    busy.start()
    time.sleep(0.5)
    response = signed_in.post(page_of("sleeper") + "try", {"params": ""})
    busy.join()
    assert response.status_code == 503
    assert "no runner for " in response.content.decode()
    assert Skill.objects.get(slug="sleeper").run_count == 1
