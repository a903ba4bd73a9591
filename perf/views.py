"""perf's plain Django views (the admin dashboard's views are in perf/admin.py)."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from perf.metrics import metrics_text


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus scrapes this; with ATOM_PERF_METRICS_TOKEN set it must send that token."""
    token = settings.PERF_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            response = HttpResponse("a bearer token is required\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
