"""How API clients sign in: the browser's session, or HTTP basic auth for scripts."""

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBasicAuth, django_auth


class BasicAuth(HttpBasicAuth):
    """HTTP basic auth for API clients, checked against Django's users."""

    def authenticate(self, request: HttpRequest, username: str, password: str):
        user = authenticate(request, username=username, password=password)
        if user is not None and user.is_active:
            request.user = user
            return user
        return None


# Basic auth first: the session check enforces CSRF and answers 403 at once when the token is
# missing, which a script sending credentials (and no cookie) never has.
SIGNED_IN = [BasicAuth(), django_auth]


def staff_require(request: HttpRequest, action: str) -> None:
    """Refuse (403, through the API's handler) anyone who is not staff."""
    if not request.user.is_staff:
        raise PermissionDenied(f"only staff users may {action}")
