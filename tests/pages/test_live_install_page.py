"""The install page follows its job live over /ws/installs/<id>/: the status and log lines as
the job runs (here in this process, a real uv build), then the finished job's facts."""

import json

import pytest

from atom_site.demo import demo_load
from skills.installer.jobs import install_job_run, install_request
from skills.models import InstallJob, Skill
from tests.pages.browser import watching

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.timeout(240),
]


def test_the_install_page_follows_its_job_live(signed_in, web):
    demo_load()
    skill = Skill.objects.select_related("current_version").get(slug="word-count")
    job = install_request(skill_versions=[skill.current_version]).jobs[0]
    assert job.status == "queued"
    page = signed_in
    received: list[dict] = []
    page.on(
        "websocket",
        lambda socket: socket.on("framereceived", lambda frame: received.append(json.loads(frame))),
    )

    with watching(page) as problems:
        page.goto(f"{web}/marketplace/installs/{job.pk}/", wait_until="networkidle")
        page.wait_for_function("document.body.dataset.live === 'websocket'")
        assert page.inner_text("#job-status") == "Queued"
        install_job_run(job_pk=job.pk)
        page.wait_for_selector("#job-status.status-succeeded", timeout=60_000)

    kinds = [(m.get("kind"), m.get("status")) for m in received if m["type"] == "event"]
    assert kinds[:2] == [("install", "queued"), ("install", "running")]  # replayed, then live
    assert kinds[-1] == ("install", "succeeded")
    assert ("log", None) in kinds  # the build's lines, as they were written
    assert [m["type"] for m in received][-1] == "end"
    assert InstallJob.objects.get(pk=job.pk).status == "succeeded"
    assert page.inner_text("#job-log").strip() != "(nothing yet)"
    assert problems.all() == []
