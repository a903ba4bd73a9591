"""Install jobs through the API: queued, built by the task, cache hits, refusals, retries."""

import pytest
from django.contrib.auth import get_user_model
from django_q.conf import Conf

from skills.models import (
    Environment,
    EnvironmentStatus,
    InstallJob,
    InstallJobStatus,
    InstallLogLine,
    Skill,
    SkillStatus,
    SkillVersion,
)

pytestmark = pytest.mark.django_db


def skill_add(slug: str, requirements: list[str], *, language: str = "python") -> Skill:
    skill = Skill.objects.create(
        slug=slug, category="test", type="utility", status=SkillStatus.APPROVED, language=language
    )
    version = SkillVersion.objects.create(
        skill=skill,
        version="1.0.0",
        content_hash=slug.ljust(64, "0"),
        filename=f"{slug}.py",
        source="def run():\n    return {}\n",
        requirements=requirements,
    )
    Skill.objects.filter(pk=skill.pk).update(current_version=version)
    skill.refresh_from_db()
    return skill


def install_callbacks(callbacks: list) -> list:
    """The on-commit callbacks that enqueue installs (perf may add its own flush)."""
    return [callback for callback in callbacks if "install_request" in callback.__qualname__]


@pytest.fixture
def api(client):
    user = get_user_model().objects.create_user("client", password="pw-12345678")
    client.force_login(user)
    return client


@pytest.fixture
def tasks_inline(monkeypatch):
    """django-q2 runs each enqueued task at once, in this process (the logic, not the worker)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def test_a_requested_install_is_queued_then_built_by_its_task(
    api, envs_dir, tasks_inline, django_capture_on_commit_callbacks
):
    skill_add("alpha", ["six"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")

    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["cache_hit"], queued["skills"]) == ("queued", None, ["alpha"])
    assert len(install_callbacks(callbacks)) == 1
    job = api.get(f"/api/installs/{queued['id']}").json()
    assert job["status"] == "succeeded"
    assert job["cache_hit"] is False
    assert job["attempts"] == 1
    assert job["environment"]["status"] == "ready"
    assert job["total_seconds"] > 0
    texts = [line["text"] for line in job["log"]]
    assert texts[0].startswith("building environment")
    assert texts[-1].startswith("ready in")
    assert any(text.startswith("verify: imported six") for text in texts)
    later = api.get(f"/api/installs/{queued['id']}?log_after={job['log'][-2]['id']}").json()
    assert [line["text"] for line in later["log"]] == [texts[-1]]


def test_a_second_install_of_the_same_set_is_answered_from_the_cache(
    api, envs_dir, tasks_inline, django_capture_on_commit_callbacks
):
    skill_add("alpha", ["six"])
    skill_add("beta", ["SIX"])
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/installs/", {"skill": "beta"}, content_type="application/json")

    assert response.status_code == 200
    job = response.json()
    assert (job["status"], job["cache_hit"]) == ("succeeded", True)
    assert install_callbacks(callbacks) == []
    assert job["log"][0]["text"].startswith("cache hit: ")
    environment = Environment.objects.get()
    assert (environment.build_count, environment.use_count) == (1, 2)


def test_an_invalid_requirement_is_refused_with_422_naming_it(api, envs_dir):
    skill_add("alpha", ["six", "git+https://example.com/evil.git"])

    response = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")

    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert problem["field"] == "skill"
    assert problem["skill"] == "alpha 1.0.0"
    assert problem["requirement"] == "git+https://example.com/evil.git"
    assert problem["rule"] == "valid-requirement"
    assert (InstallJob.objects.count(), Environment.objects.count()) == (0, 0)


def test_a_denied_package_is_refused_with_422_naming_the_rule(api, envs_dir, settings):
    settings.ATOM_POLICY_DENY = ["six"]
    skill_add("alpha", ["six>=1"])

    response = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "skill",
            "skill": "alpha 1.0.0",
            "requirement": "six>=1",
            "rule": "deny-list",
            "message": "'six>=1': six is on the deny-list",
        }
    ]
    assert (InstallJob.objects.count(), Environment.objects.count()) == (0, 0)


def test_unknown_skills_and_anonymous_clients_are_refused(client, api):
    assert api.post(
        "/api/installs/", {"skill": "nope"}, content_type="application/json"
    ).json() == {
        "detail": "no such skill(s): nope",
        "errors": [{"field": "skill", "message": "no such skill(s): nope"}],
    }
    skill_add("alpha", ["six"])
    anonymous = client.__class__()
    assert (
        anonymous.post(
            "/api/installs/", {"skill": "alpha"}, content_type="application/json"
        ).status_code
        == 401
    )
    assert InstallJob.objects.count() == 0


def test_a_job_that_failed_on_an_unreachable_index_can_be_retried(
    api,
    envs_dir,
    settings,
    free_port,
    monkeypatch,
    tasks_inline,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    settings.ATOM_INSTALL_INDEX_URL = f"http://127.0.0.1:{free_port}/simple"
    skill_add("alpha", ["iniconfig>=1.0,<2.0.1"])
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")

    failed = api.get(f"/api/installs/{queued.json()['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"].startswith("resolution: the package index is unreachable")
    assert failed["environment"]["status"] == "failed"
    assert failed["log"][-1]["text"] == f"failed: {failed['error']}"

    settings.ATOM_INSTALL_INDEX_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        retried = api.post(f"/api/installs/{failed['id']}/retry")

    assert retried.status_code == 202
    job = api.get(f"/api/installs/{failed['id']}").json()
    assert (job["status"], job["attempts"], job["error"]) == ("succeeded", 2, "")
    assert job["environment"]["status"] == "ready"
    assert api.post(f"/api/installs/{failed['id']}/retry").status_code == 409


def test_an_environment_detail_has_its_lockfile(api, envs_dir):
    from skills.installer.builder import environment_ensure

    environment = environment_ensure(language="python", requirements=["six"])

    detail = api.get(f"/api/environments/{environment.key}").json()

    assert detail["status"] == "ready"
    assert detail["lockfile"] == environment.lockfile
    assert detail["python_path"] == str(environment.python_path)
    assert detail["requirements"] == ["six"]
    assert api.get("/api/environments/nope").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_batch_dedupes_keys_and_builds_them_in_parallel(envs_dir, settings):
    from skills.installer.jobs import install_request

    settings.MAX_CONCURRENT_INSTALLATIONS = 3
    versions = [
        skill_add(slug, requirements).current_version
        for slug, requirements in [
            ("alpha", ["six"]),
            ("beta", ["six"]),
            ("gamma", ["iniconfig"]),
            ("delta", ["packaging"]),
        ]
    ]

    result = install_request(skill_versions=versions, run_now=True)

    assert result.batch is not None
    assert len(result.jobs) == 3
    assert {job.status for job in result.jobs} == {InstallJobStatus.SUCCEEDED}
    assert sorted(sorted(job.skills.values_list("slug", flat=True)) for job in result.jobs) == [
        ["alpha", "beta"],
        ["delta"],
        ["gamma"],
    ]
    assert InstallJob.objects.filter(batch=result.batch).count() == 3
    assert Environment.objects.filter(status=EnvironmentStatus.READY).count() == 3


def test_a_package_denied_after_the_request_is_never_installed(
    api, envs_dir, settings, tasks_inline, django_capture_on_commit_callbacks
):
    skill_add("alpha", ["six"])
    with django_capture_on_commit_callbacks() as callbacks:
        queued = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")
    settings.ATOM_POLICY_DENY = ["six"]

    for callback in install_callbacks(callbacks):
        callback()

    job = api.get(f"/api/installs/{queued.json()['id']}").json()
    assert job["status"] == "failed"
    assert job["error"] == "'six': six is on the deny-list"
    environment = Environment.objects.get()
    assert (environment.status, environment.build_count) == (EnvironmentStatus.PENDING, 0)
    assert not envs_dir.exists()


def test_an_unresolvable_set_is_refused_with_409_and_the_conflict(api, envs_dir):
    skill_add("alpha", ["six==1.16.0", "six<1.10"])
    skill_add("beta", ["iniconfig"])

    single = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")
    batch = api.post(
        "/api/installs/batch", {"skills": ["beta", "alpha"]}, content_type="application/json"
    )

    assert single.status_code == 409
    assert single.json()["conflicts"] == [
        {
            "package": "six",
            "language": "python",
            "requests": [
                {"skill": "alpha 1.0.0", "specifier": "six==1.16.0"},
                {"skill": "alpha 1.0.0", "specifier": "six<1.10"},
            ],
            "reason": "six==1.16.0 (alpha 1.0.0) is excluded by six<1.10",
        }
    ]
    assert single.json()["detail"] == "six: six==1.16.0 (alpha 1.0.0) is excluded by six<1.10"
    assert batch.status_code == 409
    assert batch.json()["conflicts"] == single.json()["conflicts"]
    assert (InstallJob.objects.count(), Environment.objects.count()) == (0, 0)


def test_a_conflict_is_also_a_refusal_for_callers_that_handle_refusals(envs_dir):
    from skills.installer.jobs import InstallRefused, install_request

    version = skill_add("alpha", ["six==1.16.0", "six<1.10"]).current_version

    with pytest.raises(InstallRefused) as refused:
        install_request(skill_versions=[version])

    assert [(p["requirement"], p["rule"]) for p in refused.value.problems] == [
        ("six==1.16.0", "conflict"),
        ("six<1.10", "conflict"),
    ]
    assert InstallJob.objects.count() == 0


def test_an_unresolvable_node_set_is_refused_with_409(api, envs_dir):
    skill_add("alpha", ["is-number@^7.0.0", "is-number@<7"], language="node")

    response = api.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")

    assert response.status_code == 409
    [conflict] = response.json()["conflicts"]
    assert (conflict["package"], conflict["language"]) == ("is-number", "node")
    assert (InstallJob.objects.count(), Environment.objects.count()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_log_lines_are_stored_while_the_job_runs(envs_dir):
    import threading

    from django.db import connection

    from skills.installer.jobs import install_job_run, install_request
    from tests.skills.installer.conftest import unique_requirement

    version = skill_add("alpha", [unique_requirement()]).current_version
    [job] = install_request(skill_versions=[version]).jobs  # queued for workers none run here

    def run() -> None:
        try:
            install_job_run(job_pk=job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    seen_while_running = []
    while worker.is_alive():
        status = InstallJob.objects.values_list("status", flat=True).get(pk=job.pk)
        lines = InstallLogLine.objects.filter(job_id=job.pk).count()
        if status == InstallJobStatus.RUNNING and lines:
            seen_while_running.append(lines)
    worker.join()

    job.refresh_from_db()
    assert job.status == InstallJobStatus.SUCCEEDED
    total = InstallLogLine.objects.filter(job=job).count()
    assert seen_while_running, "no log line was readable while the job ran"
    assert min(seen_while_running) < total
    assert len(set(seen_while_running)) > 1
