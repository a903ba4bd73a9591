"""A batch requested through the API is built by a real django-q2 worker cluster."""

import time

import pytest
from django.contrib.auth import get_user_model

from skills.models import Environment, EnvironmentStatus, InstallJob, InstallJobStatus
from tests.processes import qcluster
from tests.skills.installer.test_install_jobs import skill_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cluster(installer_env: dict[str, str]):
    with qcluster(installer_env, ATOM_Q_WORKERS="2") as process:
        yield process


def test_a_batch_is_built_by_the_worker_cluster(client, envs_dir, cluster):
    user = get_user_model().objects.create_user("client", password="pw-12345678")
    client.force_login(user)
    skill_add("alpha", ["six"])
    skill_add("beta", ["six"])
    skill_add("gamma", ["iniconfig"])

    response = client.post(
        "/api/installs/batch",
        {"skills": ["alpha", "beta", "gamma"]},
        content_type="application/json",
    )

    assert response.status_code == 202
    batch = response.json()
    assert len(batch["jobs"]) == 2
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        jobs = InstallJob.objects.filter(batch=batch["batch"])
        if all(job.is_finished for job in jobs):
            break
        assert cluster.poll() is None, "the cluster stopped"
        time.sleep(0.2)
    assert sorted(job.status for job in jobs) == [InstallJobStatus.SUCCEEDED] * 2
    assert Environment.objects.filter(status=EnvironmentStatus.READY).count() == 2
    assert all(job.log_lines.filter(text__startswith="ready in").exists() for job in jobs)
