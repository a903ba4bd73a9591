"""The site's icon at /favicon.ico, where browsers ask for it on every page."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

ICON = settings.BASE_DIR / "static" / "favicon.svg"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(ICON.read_bytes(), content_type="image/svg+xml")
