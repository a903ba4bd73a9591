"""A queued run is carried out by a real django-q2 worker cluster, in the worker's own runners."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from skills.catalog.importer import SkillSource, skills_import
from skills.models import Skill, SkillRun, SkillRunStatus
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def cluster(manage_py: list[str], process_env: dict[str, str], settings, tmp_path: Path):
    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    process = subprocess.Popen(
        [*manage_py, "qcluster"],
        env={**process_env, "ATOM_ENVS_DIR": str(settings.ATOM_ENVS_DIR), "ATOM_Q_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # django-q2 forks workers, which start runners: stop the group
    )
    yield process
    # SIGTERM to the cluster alone: it stops its sentinel and workers in order (a signal to the
    # whole group can catch a child holding a shared lock, and the cluster then waits forever).
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left of the group: runners


def test_a_queued_run_is_carried_out_by_the_worker_cluster(client, cluster, tmp_path: Path):
    path = tmp_path / "word-count.py"
    body = "def run(text=''):\n    print(text)\n    return {'words': len(text.split())}\n"
    path.write_text(skill_source("word-count", body=body))
    skills_import(sources=[SkillSource.from_path(path)], approve=True)
    user = get_user_model().objects.create_user("client", password="pw-12345678")
    client.force_login(user)

    response = client.post(
        "/api/skills/word-count/run",
        {"params": {"text": "from the worker"}, "queued": True},
        content_type="application/json",
    )

    assert response.status_code == 202
    run_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = SkillRun.objects.get(pk=run_id)
        if run.is_finished:
            break
        assert cluster.poll() is None, "the cluster stopped"
        time.sleep(0.2)
    assert (run.status, run.attempts, run.error_type) == (SkillRunStatus.SUCCEEDED, 1, "")
    assert run.result == {"words": 3}
    assert run.stdout == "from the worker\n"
    assert Skill.objects.get(slug="word-count").run_count == 1
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "succeeded"
