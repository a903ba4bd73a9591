"""The one NinjaAPI; each app mounts its router here."""

from django.http import HttpRequest
from ninja import Schema, Status

from atom_site.auth import NO_CREDENTIALS, WWW_AUTHENTICATE
from atom_site.errors import AtomApi, JsonParser, errors_install
from atom_site.health import health_report
from perf.api import router as perf_router
from skills.catalog.api import agents_router
from skills.catalog.api import router as skills_router
from skills.installer.api import dependencies_router, environments_router
from skills.installer.api import router as installs_router
from skills.marketplace.api import router as marketplace_router
from skills.runs.api import router as runs_router
from skills.runs.api import skill_runs_router
from workflows.api import router as workflows_router
from workflows.api import runs_router as workflow_runs_router

api = AtomApi(
    title="Atom API",
    version="1.0",
    description="Publish, install, load, compose and measure skills.",
    urls_namespace="api",
    parser=JsonParser(),
)
errors_install(api, challenge=WWW_AUTHENTICATE, no_credentials=NO_CREDENTIALS)
api.add_router("/skills/", skills_router)
api.add_router("/skills/", skill_runs_router)
api.add_router("/agents/", agents_router)
api.add_router("/installs/", installs_router)
api.add_router("/environments/", environments_router)
api.add_router("/dependencies/", dependencies_router)
api.add_router("/runs/", runs_router)
api.add_router("/marketplace/", marketplace_router)
api.add_router("/perf/", perf_router)
api.add_router("/workflows/", workflows_router)
api.add_router("/workflow-runs/", workflow_runs_router)


class CheckOut(Schema):
    name: str
    ok: bool
    detail: str
    seconds: float


class HealthOut(Schema):
    status: str
    failed: list[str]
    checks: dict[str, CheckOut]


@api.get("/health", response={200: HealthOut, 503: HealthOut}, tags=["health"], auth=None)
async def health(request: HttpRequest):
    """Run every check; 200 when all pass, 503 naming the ones that failed."""
    report = await health_report()
    return Status(200 if report.ok else 503, report.as_dict())
