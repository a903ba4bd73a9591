"""Every page Atom serves, opened in a real browser signed in as staff, at 1400 px and 390 px:
no console error, no 4xx/5xx for the page or anything it loads, nothing overflowing the
viewport. A screenshot of each lands in test-output/pages/<leg>/ (see docs/pages.md)."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from atom_site.demo import demo_load
from atom_site.keys import api_key_create
from perf.models import ResourceSample
from perf.report import report_html
from skills.installer.jobs import install_request
from skills.models import Agent, AgentSkill, Skill
from skills.runs.records import skill_run_start
from tests.pages.browser import page_check
from tests.perf.conftest import samples_create
from workflows.engine import run_start
from workflows.library import workflows_demo_load
from workflows.models import Workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.timeout(240),
]


@dataclass
class Site:
    skill: Skill
    workflow: Workflow
    workflow_run_id: int
    install_job_id: int
    skill_run_id: int


@pytest.fixture
def site(staff_member) -> Site:
    """The demo catalog and workflows, and one of each thing a page shows."""
    demo_load()
    workflows_demo_load(actor=staff_member)
    skill = Skill.objects.select_related("current_version").get(slug="change-case")
    agent = Agent.objects.create(slug="helpdesk", name="Helpdesk")
    AgentSkill.objects.create(agent=agent, skill=skill)
    api_key_create(owner=staff_member, name="laptop", scopes=["read", "run"])
    workflow = Workflow.objects.get(slug="name-to-identifiers")
    run = run_start(workflow, {"name": "Ada Lovelace"}, requested_by=staff_member)
    job = install_request(skill_versions=[skill.current_version]).jobs[0]
    skill_run = skill_run_start(skill=skill, params={"text": "hi"}, user=staff_member, queued=True)
    now = timezone.now()
    samples_create("skill_load", [0.1, 0.2, 0.3, 0.4], at=now - timedelta(minutes=1))
    ResourceSample.objects.create(
        host="web-1",
        cpu_percent=12.0,
        memory_percent=30.0,
        disk_read_bytes=0,
        disk_write_bytes=0,
        created_at=now - timedelta(minutes=5),
    )
    return Site(skill, workflow, run.pk, job.pk, skill_run.pk)


def assert_clean(problems: list[str]) -> None:
    assert problems == [], "\n".join(problems)


def test_the_marketplace_pages_render_cleanly(signed_in, web, site):
    slug = site.skill.slug
    pages = [
        ("marketplace", "/marketplace/"),
        ("marketplace search", "/marketplace/?query=csv"),
        ("marketplace facets", "/marketplace/?category=text&type=transform"),
        ("marketplace skill", f"/marketplace/skills/{slug}/"),
        ("marketplace install", f"/marketplace/installs/{site.install_job_id}/"),
        ("marketplace run", f"/marketplace/runs/{site.skill_run_id}/"),
    ]
    problems = []
    for name, path in pages:
        problems += page_check(signed_in, web + path, name)
    assert_clean(problems)


def test_the_admin_pages_render_cleanly(signed_in, web, site):
    skill_pk = site.skill.pk
    pages = [
        ("admin", "/admin/"),
        ("admin skills", "/admin/skills/skill/"),
        ("admin skill", f"/admin/skills/skill/{skill_pk}/change/"),
        ("admin try it", f"/admin/skills/skill/{skill_pk}/try/"),
        ("admin import", "/admin/skills/skill/import/"),
        ("admin agents", "/admin/skills/agent/"),
        ("admin environments", "/admin/skills/environment/"),
        ("admin install jobs", "/admin/skills/installjob/"),
        ("admin skill runs", "/admin/skills/skillrun/"),
        ("admin workflows", "/admin/workflows/workflow/"),
        ("admin workflow", f"/admin/workflows/workflow/{site.workflow.pk}/change/"),
        ("admin workflow runs", "/admin/workflows/workflowrun/"),
        ("admin workflow run", f"/admin/workflows/workflowrun/{site.workflow_run_id}/change/"),
        ("admin api keys", "/admin/atom_site/apikey/"),
    ]
    problems = []
    for name, path in pages:
        problems += page_check(signed_in, web + path, name)
    assert_clean(problems)


def test_the_perf_pages_render_cleanly(signed_in, web, site, tmp_path: Path):
    now = timezone.now()
    report = tmp_path / "report.html"
    report.write_text(report_html(since=now - timedelta(days=1), until=now))
    problems = page_check(
        signed_in, f"{web}/admin/perf/dashboard/", "perf dashboard", ready=".uplot"
    )
    problems += page_check(signed_in, report.as_uri(), "perf report")
    assert_clean(problems)
