"""A queued run is carried out by a real django-q2 worker cluster, in the worker's own runners."""

import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from skills.catalog.importer import SkillSource, skills_import
from skills.models import Skill, SkillRun, SkillRunStatus
from tests.processes import qcluster
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def cluster(process_env: dict[str, str], settings, tmp_path: Path):
    settings.ATOM_ENVS_DIR = tmp_path / "envs"
    envs = str(settings.ATOM_ENVS_DIR)
    with qcluster(process_env, ATOM_ENVS_DIR=envs, ATOM_Q_WORKERS="1") as process:
        yield process


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
