"""POST /api/skills/{slug}/run and GET /api/runs/{id}: real runners, real environments."""

import shutil
import threading
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from skills.installer.builder import environment_row_for, spec_for
from skills.models import Environment, EnvironmentStatus, Skill, SkillRun, SkillStatus
from skills.runs.calls import run_skill
from skills.runtime.cgroups import cgroup_support
from tests.skills.conftest import CATALOG_INPUTS

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("catalog_runtime"),
]


def signed_in(client, *, is_staff: bool = False, username: str = "analyst"):
    user = get_user_model().objects.create_user(username, password="pw-12345678")
    user.is_staff = is_staff
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def api(client):
    return signed_in(client)


def post_run(api, slug: str, body: dict):
    return api.post(f"/api/skills/{slug}/run", body, content_type="application/json")


def test_a_run_answers_the_finished_run_with_result_output_and_timings(api, ready):
    skill = ready()

    response = post_run(api, "shout", {"params": {"text": "hi"}})

    assert response.status_code == 200
    run = response.json()
    assert (run["status"], run["result"], run["error"]) == ("succeeded", "HI", None)
    assert (run["skill"], run["version"], run["requested_by"]) == ("shout", "1.0.0", "analyst")
    assert run["content_hash"] == skill.current_version.content_hash
    assert (run["stdout"], run["stdout_bytes"], run["stderr"]) == ("shouting hi\n", 12, "")
    assert (run["is_queued"], run["attempts"], run["timeout"]) == (False, 1, 30.0)
    assert run["cache"] in ("hit", "loaded")
    assert run["wall_seconds"] >= run["duration_seconds"] >= 0
    # Counted for the runner's whole group where a cgroup can count it (CI's machine can).
    counted = cgroup_support().counts_cpu and settings.ATOM_RUNNER_CGROUPS != "off"
    assert (run["cpu_seconds"] is not None) == counted
    assert run["finished_at"] is not None
    assert Skill.objects.get(pk=skill.pk).run_count == 1
    assert api.get(f"/api/runs/{run['id']}").json() == run


def test_a_skill_that_raises_is_a_finished_run_with_its_error(api, ready):
    ready(body="def run(text):\n    raise KeyError(text)\n")

    run = post_run(api, "shout", {"params": {"text": "missing"}}).json()

    assert run["status"] == "failed"
    assert run["result"] is None
    assert (run["error"]["type"], run["error"]["message"], run["error"]["stage"]) == (
        "KeyError",
        "'missing'",
        "run",
    )
    assert "raise KeyError(text)" in run["error"]["traceback"]


def test_a_run_past_its_timeout_is_a_finished_run_naming_the_limit(api, ready):
    ready(body="import time\n\ndef run(text):\n    time.sleep(30)\n")

    response = post_run(api, "shout", {"params": {"text": "x"}, "timeout": 0.5})

    assert response.status_code == 200
    run = response.json()
    assert (run["status"], run["timeout"], run["error"]["type"]) == ("failed", 0.5, "TimeoutError")
    assert "wall-clock limit of 0.5 s" in run["error"]["message"]


def test_params_that_break_the_schema_are_refused_naming_the_field(api, ready):
    skill = ready()

    response = post_run(api, "shout", {"params": {"text": 3}})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "params.text: 3 is not of type 'string'",
        "errors": [{"field": "params.text", "message": "3 is not of type 'string'"}],
    }
    assert SkillRun.objects.count() == 0
    assert Skill.objects.get(pk=skill.pk).run_count == 0


def test_a_bad_timeout_is_refused_by_the_schema(api, ready):
    ready()

    response = post_run(api, "shout", {"params": {"text": "a"}, "timeout": 0})

    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert problem["field"] == "timeout"
    assert SkillRun.objects.count() == 0


def test_anonymous_clients_may_not_run_and_non_staff_only_approved_skills(client, api, ready):
    ready(approve=False)
    anonymous = client.__class__()

    assert post_run(anonymous, "shout", {"params": {"text": "a"}}).status_code == 401
    refused = post_run(api, "shout", {"params": {"text": "a"}})
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "shout is not approved; only staff users may run it",
        "errors": [],
    }
    assert SkillRun.objects.count() == 0

    staff = signed_in(client.__class__(), is_staff=True, username="admin")
    assert post_run(staff, "shout", {"params": {"text": "a"}}).json()["result"] == "A"


def test_unknown_skills_versions_and_agents_are_404(api, ready):
    ready()

    assert post_run(api, "nope", {}).status_code == 404
    assert post_run(api, "shout", {"params": {"text": "a"}, "version": "9.9"}).json() == {
        "detail": "shout has no version '9.9'",
        "errors": [{"field": "version", "message": "shout has no version '9.9'"}],
    }
    assert post_run(api, "shout", {"params": {"text": "a"}, "agent": "bot"}).json() == {
        "detail": "no such agent: bot",
        "errors": [{"field": "agent", "message": "no such agent: bot"}],
    }
    assert SkillRun.objects.count() == 0


def test_a_skill_without_a_version_is_409(api):
    Skill.objects.create(slug="empty", category="t", type="utility", status=SkillStatus.APPROVED)

    response = post_run(api, "empty", {})

    assert response.status_code == 409
    assert response.json() == {"detail": "empty has no version to run", "errors": []}
    assert SkillRun.objects.count() == 0


def test_a_skill_whose_packages_the_policy_now_refuses_is_409(api, publish, settings):
    publish(dependencies=["six"])
    settings.ATOM_POLICY_DENY = ["six"]

    response = post_run(api, "shout", {"params": {"text": "a"}})

    assert response.status_code == 409
    assert "six is on the deny-list" in response.json()["detail"]
    assert SkillRun.objects.count() == 0


def test_a_full_pool_is_503_and_the_attempt_is_recorded(api, ready, settings):
    settings.ATOM_RUNNER_MAX = 1
    settings.ATOM_RUNNER_ACQUIRE_SECONDS = 0.3
    sleeper = ready("sleeper", "import time\n\ndef run():\n    time.sleep(3)\n", extra="")
    busy = threading.Thread(target=run_skill, args=(sleeper, {}))
    busy.start()
    time.sleep(0.5)

    # ATOM_RUNNER_MAX runners serve one skill version at once: its one runner is busy.
    response = post_run(api, "sleeper", {"params": {}})
    busy.join()

    assert response.status_code == 503
    assert response.json()["detail"].startswith("no runner for ")
    run = SkillRun.objects.get()
    assert (run.status, run.error_type, run.error_stage) == ("failed", "PoolBusy", "host")
    assert Skill.objects.get(slug="sleeper").run_count == 1


@pytest.fixture
def tasks_inline(monkeypatch):
    """django-q2 runs each enqueued task at once, in this process (the logic, not the worker)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def test_a_queued_run_answers_202_and_its_task_carries_it_out(api, ready, tasks_inline):
    ready()

    response = post_run(api, "shout", {"params": {"text": "later"}, "queued": True})

    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["is_queued"], queued["attempts"]) == ("queued", True, 0)
    run = api.get(f"/api/runs/{queued['id']}").json()
    assert (run["status"], run["result"], run["attempts"]) == ("succeeded", "LATER", 1)


def test_a_timeout_above_the_cap_is_recorded_as_the_cap_and_run_in_request(api, ready, settings):
    settings.ATOM_RUN_TIMEOUT_CAP = 2
    ready()

    response = post_run(api, "shout", {"params": {"text": "a"}, "timeout": 45})

    assert response.status_code == 200
    run = response.json()
    assert (run["status"], run["is_queued"], run["timeout"]) == ("succeeded", False, 2.0)


def test_a_timeout_above_the_synchronous_bound_is_queued(api, ready, settings, tasks_inline):
    settings.ATOM_RUN_SYNC_TIMEOUT = 5
    ready()

    response = post_run(api, "shout", {"params": {"text": "a"}, "timeout": 6})

    assert response.status_code == 202
    assert response.json()["timeout"] == 6.0
    assert SkillRun.objects.get().status == "succeeded"


def test_a_run_whose_environment_is_not_installed_yet_is_queued(api, publish, tasks_inline):
    publish()

    response = post_run(api, "shout", {"params": {"text": "a"}})

    assert (response.status_code, response.json()["status"]) == (202, "queued")
    run = SkillRun.objects.get()
    assert (run.status, run.result) == ("succeeded", "A")


def test_a_run_whose_ready_environment_lost_its_files_is_queued_once(api, ready, tasks_inline):
    ready()
    environment = Environment.objects.get(status=EnvironmentStatus.READY)
    shutil.rmtree(environment.location)

    response = post_run(api, "shout", {"params": {"text": "a"}})

    # The run's row, written in the trip that took the environment, went again with it.
    assert (response.status_code, response.json()["status"]) == (202, "queued")
    run = SkillRun.objects.get()
    assert (run.is_queued, run.status, run.result, run.attempts) == (True, "succeeded", "A", 1)
    assert Environment.objects.get(pk=environment.pk).build_count == 2


def test_a_warm_environment_that_lost_its_files_is_not_started_in(api, ready, tasks_inline):
    ready()
    assert post_run(api, "shout", {"params": {"text": "a"}}).status_code == 200  # taken: kept
    shutil.rmtree(Environment.objects.get(status=EnvironmentStatus.READY).location)

    response = post_run(api, "shout", {"params": {"text": "b"}})

    assert (response.status_code, response.json()["status"]) == (202, "queued")
    assert SkillRun.objects.get(pk=response.json()["id"]).result == "B"
    assert SkillRun.objects.filter(params={"text": "b"}).count() == 1


def test_a_warm_run_is_on_record_as_running_while_its_call_is_made(api, ready):
    ready("sleeper", "import time\n\ndef run():\n    time.sleep(1.5)\n", extra="")
    first = post_run(api, "sleeper", {"params": {}})  # warm, and its environment taken
    assert first.status_code == 200
    answered = {}
    second = threading.Thread(
        target=lambda: answered.update(response=post_run(api, "sleeper", {"params": {}}))
    )

    second.start()
    seen = _run_seen_running(excluding=first.json()["id"], within=1.2)
    second.join()

    assert seen is not None, "the run's row was not written while its call was made"
    assert (answered["response"].status_code, answered["response"].json()["id"]) == (200, seen)
    assert SkillRun.objects.get(pk=seen).status == "succeeded"


def _run_seen_running(*, excluding: int, within: float) -> int | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = SkillRun.objects.filter(status="running").exclude(pk=excluding).first()
        if running is not None:
            return running.pk
        time.sleep(0.02)
    return None


def test_a_warm_run_s_result_is_on_record_when_its_answer_arrives(api, ready):
    from django.db import connections

    ready()
    assert post_run(api, "shout", {"params": {"text": "a"}}).status_code == 200  # warm

    answered = post_run(api, "shout", {"params": {"text": "b"}})

    assert answered.status_code == 200
    assert all(not getattr(each, "in_flight", None) for each in connections.all())
    assert SkillRun.objects.get(pk=answered.json()["id"]).result == "B"


def test_every_warm_run_counts_as_a_use_of_its_environment(api, ready):
    ready()
    assert post_run(api, "shout", {"params": {"text": "a"}}).status_code == 200
    before = Environment.objects.get(status=EnvironmentStatus.READY)

    for text in ("b", "c"):
        assert post_run(api, "shout", {"params": {"text": text}}).status_code == 200

    after = Environment.objects.get(pk=before.pk)
    assert after.use_count == before.use_count + 2
    assert after.last_used_at > before.last_used_at


def test_a_call_started_in_an_environment_no_longer_ready_is_on_record_all_the_same(api, ready):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a call starts beside its record's round trip on a database server only")
    ready()
    assert post_run(api, "shout", {"params": {"text": "a"}}).status_code == 200  # taken: kept
    # Another process takes the environment out of service; its files are still there.
    Environment.objects.update(status=EnvironmentStatus.PENDING)

    started = post_run(api, "shout", {"params": {"text": "b"}})
    after = post_run(api, "shout", {"params": {"text": "c"}})

    # The call had started in this process's copy of it: made, and on record once.
    assert (started.status_code, started.json()["result"]) == (200, "B")
    assert SkillRun.objects.filter(params={"text": "b"}, status="succeeded").count() == 1
    # The next one knows: not ready, so it waits for the environment (a queued run).
    assert (after.status_code, after.json()["status"]) == (202, "queued")


def test_only_the_user_who_asked_or_staff_may_read_a_run(client, api, ready):
    ready()
    run_id = post_run(api, "shout", {"params": {"text": "a"}}).json()["id"]

    other = signed_in(client.__class__(), username="other")
    staff = signed_in(client.__class__(), is_staff=True, username="admin")

    assert other.get(f"/api/runs/{run_id}").status_code == 403
    assert staff.get(f"/api/runs/{run_id}").json()["result"] == "A"
    assert api.get("/api/runs/999999").status_code == 404


def test_a_skill_asking_for_more_memory_than_the_host_allows_is_409(api, ready, settings):
    ready(extra="# memory_mb = 4096\n" + CATALOG_INPUTS)
    settings.ATOM_RUN_MEMORY_MAX_MB = 1024

    response = post_run(api, "shout", {"params": {"text": "a"}})

    assert response.status_code == 409
    assert response.json() == {
        "detail": "shout 1.0.0: memory_mb must be between 16 and 1024",
        "errors": [],
    }
    assert SkillRun.objects.count() == 0


def test_a_queued_run_gives_its_worker_time_for_an_install_and_the_call(api, ready, settings):
    settings.ATOM_INSTALL_TIMEOUT = 100
    ready()

    response = post_run(api, "shout", {"params": {"text": "a"}, "queued": True, "timeout": 5})

    [queued] = OrmQ.objects.all()
    assert (queued.func(), queued.task["args"]) == (
        "skills.runs.tasks.run_skill_task",
        (response.json()["id"],),
    )
    assert queued.task["timeout"] == 5 + 100 + 60
    assert SkillRun.objects.get().status == "queued"


def test_a_docker_environment_with_no_engine_is_503_and_stays_ready(
    api, publish, settings, tmp_path
):
    settings.ATOM_INSTALL_BACKEND = "docker"
    settings.ATOM_DOCKER_URL = f"unix://{tmp_path}/no-engine.sock"
    publish()
    environment = environment_row_for(spec_for(language="python", requirements=[]))
    Environment.objects.filter(pk=environment.pk).update(
        status=EnvironmentStatus.READY, ready_at=timezone.now()
    )

    response = post_run(api, "shout", {"params": {"text": "a"}})

    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "container-backed calls are unavailable: Docker backend: no Docker engine is reachable "
        f"at unix://{tmp_path}/no-engine.sock ("
    )
    # An engine that is down says nothing about its images: the environment stays ready.
    assert Environment.objects.get(pk=environment.pk).status == EnvironmentStatus.READY
    assert SkillRun.objects.count() == 0  # refused before it started, like a 409
    assert Skill.objects.get(slug="shout").run_count == 0
