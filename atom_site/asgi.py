"""ASGI entry point: HTTP through Django in a pool of threads, websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atom_site.settings")
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs the apps loaded above
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from atom_site.http import PooledHTTPHandler  # noqa: E402
from atom_site.routing import websocket_urlpatterns  # noqa: E402


class BrowserOriginValidator(OriginValidator):
    """Refuses a browser's websocket opened by a page of another site (it would carry the
    user's session cookie). Browsers always send `Origin`; a client that sends none is not a
    browser (a script, a notebook), carries no one else's cookie, and signs in itself."""

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)


application = ProtocolTypeRouter(
    {
        "http": PooledHTTPHandler(threads=settings.ATOM_WEB_THREADS),
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)), settings.ALLOWED_HOSTS
        ),
    }
)
