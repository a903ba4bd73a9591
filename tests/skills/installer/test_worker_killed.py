"""A django-q2 worker SIGKILLed in the middle of an install job: the reaper queues the job
again, another worker takes the dead build over, and the job ends once, succeeded."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from skills.installer.jobs import install_jobs_reap
from skills.installer.schedules import schedules_ensure
from skills.models import Environment, EnvironmentStatus, InstallJob, InstallJobStatus
from tests.processes import qcluster
from tests.skills.installer.conftest import python_in, temp_dirs, unique_requirement
from tests.skills.installer.test_install_jobs import skill_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cluster(installer_env: dict[str, str]):
    with qcluster(installer_env, ATOM_Q_WORKERS="2") as process:
        yield process


def building(environment_pk: int, envs_dir: Path, cluster) -> Environment:
    """The environment once a worker holds its build and has its temporary directory."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        environment = Environment.objects.get(pk=environment_pk)
        if environment.status == EnvironmentStatus.BUILDING and temp_dirs(envs_dir):
            return environment
        assert environment.status != EnvironmentStatus.READY, "built before it could be killed"
        assert cluster.poll() is None, "the cluster stopped"
        time.sleep(0.005)
    raise AssertionError("no worker started the build")


def test_a_worker_killed_during_an_install_job_is_requeued_and_the_job_succeeds_once(
    client, envs_dir, cluster
):
    user = get_user_model().objects.create_user("client", password="pw-12345678")
    client.force_login(user)
    skill_add("alpha", [unique_requirement("iniconfig")])
    response = client.post("/api/installs/", {"skill": "alpha"}, content_type="application/json")
    assert response.status_code == 202
    job = InstallJob.objects.get(pk=response.json()["id"])
    worker_pid = building(job.environment_id, envs_dir, cluster).build_pid

    os.kill(worker_pid, signal.SIGKILL)
    gone = time.monotonic() + 10
    while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < gone:
        time.sleep(0.05)
    job.refresh_from_db()
    assert job.status == InstallJobStatus.RUNNING  # what the dead worker left
    report = install_jobs_reap()

    assert report.requeued == [job.pk]
    assert install_jobs_reap().requeued == []  # queued once, however often the reaper runs
    deadline = time.monotonic() + 180
    while not job.is_finished and time.monotonic() < deadline:
        assert cluster.poll() is None, "the cluster stopped"
        time.sleep(0.1)
        job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (InstallJobStatus.SUCCEEDED, 2, "")
    environment = Environment.objects.get(pk=job.environment_id)
    assert environment.status == EnvironmentStatus.READY
    assert environment.build_count == 2  # the killed build, then the one that finished
    assert environment.build_pid != worker_pid
    assert python_in(environment, "import iniconfig").returncode == 0
    assert temp_dirs(envs_dir) == []
    texts = list(job.log_lines.values_list("text", flat=True))
    assert texts.count("its worker died: queued again") == 1
    assert len([text for text in texts if text.startswith("ready in")]) == 1


def test_the_install_reaper_is_a_schedule():
    from django_q.models import Schedule

    assert schedules_ensure() == ["installs.reap"]
    schedules_ensure()  # idempotent
    schedule = Schedule.objects.get(name="installs.reap")
    assert (schedule.func, schedule.minutes) == ("skills.installer.tasks.install_jobs_reap_task", 1)
