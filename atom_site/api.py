"""The one NinjaAPI; each app mounts its router here."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status

from atom_site.health import health_report
from perf.api import router as perf_router
from skills.api import router as skills_router
from skills.installer.api import router as installs_router
from skills.marketplace_api import router as marketplace_router
from skills.runs_api import router as runs_router

api = NinjaAPI(
    title="Atom API",
    version="1.0",
    description="Publish, install, load, compose and measure skills.",
    urls_namespace="api",
)
api.add_router("/", skills_router)
api.add_router("/perf/", perf_router)
api.add_router("/", installs_router)
api.add_router("/marketplace/", marketplace_router)
api.add_router("/", runs_router)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(error) or "permission denied"}, status=403)


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
