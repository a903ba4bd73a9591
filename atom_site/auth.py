"""How API clients sign in, and what a signed-in request may do.

Four ways in, tried in order by every secured operation (`auth=SIGNED_IN`): an API key as
`Authorization: Bearer <token>` or `X-API-Key: <token>` (atom_site/keys.py), HTTP basic auth
for scripts, and the browser's session (with its CSRF token). Credentials that are sent and
wrong are a 401 at once; none at all is a 401 too, with `WWW-Authenticate` (atom_site/api.py's
handler), never the session's CSRF 403. A request signed in with a key carries the key as
`request.auth`; `scope_require` and `key_agent_require` check it.
"""

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBasicAuth, HttpBearer
from ninja.security.http import DecodeError

from atom_site.keys import SCOPES, ApiKeyRefused, api_key_check
from atom_site.models import ApiKey

WWW_AUTHENTICATE = 'Bearer realm="atom"'
NO_CREDENTIALS = (
    "authentication required: send an API key (Authorization: Bearer <key>, or X-API-Key), "
    "basic auth, or a signed-in session"
)


class CredentialsRefused(AuthenticationError):
    """Credentials were sent and do not sign anyone in: a 401 saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message)


# API keys ------------------------------------------------------------------------------------


def _key_sign_in(request: HttpRequest, token: str) -> ApiKey:
    try:
        key = api_key_check(token)
    except ApiKeyRefused as refused:
        raise CredentialsRefused(str(refused)) from None
    request.user = key.owner
    return key


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer atom_…`. Other schemes are left to the classes after it."""

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        return _key_sign_in(request, token)


class ApiKeyInHeader(APIKeyHeader):
    """`X-API-Key: atom_…`, for clients that keep Authorization for something else."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        if not key:
            return None
        return _key_sign_in(request, key)


# Basic auth ----------------------------------------------------------------------------------


class VerifiedPasswords:
    """(username, password) pairs that signed in lately, so basic auth pays Django's password
    hash (PBKDF2) once per pair, process and `ttl` instead of on every request.

    Entries are keyed by an HMAC of the pair under SECRET_KEY (no password is kept) and hold
    the user's id and stored password hash: a hit still loads the user, and counts only while
    the user is active and the stored hash is unchanged, so a password change or a
    deactivation takes effect on the next request.
    """

    def __init__(self, *, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, int, str]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(username: str, password: str) -> str:
        pair = f"{username}\0{password}".encode()
        return hmac.new(settings.SECRET_KEY.encode(), pair, hashlib.sha256).hexdigest()

    def get(self, fingerprint: str) -> tuple[int, str] | None:
        with self._lock:
            entry = self._entries.get(fingerprint)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[fingerprint]
                return None
            return entry[1], entry[2]

    def put(self, fingerprint: str, user: AbstractBaseUser) -> None:
        with self._lock:
            self._entries[fingerprint] = (time.monotonic() + self.ttl, user.pk, user.password)
            self._entries.move_to_end(fingerprint)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_passwords = VerifiedPasswords(ttl=300, size=1024)


def basic_credentials_check(
    request: HttpRequest, username: str, password: str
) -> AbstractBaseUser | None:
    """The active user these credentials sign in, or None; see VerifiedPasswords."""
    fingerprint = verified_passwords.fingerprint(username, password)
    known = verified_passwords.get(fingerprint)
    if known is not None:
        user_pk, password_hash = known
        user = get_user_model()._default_manager.filter(pk=user_pk).first()
        if user is not None and user.is_active and user.password == password_hash:
            return user
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        return None
    verified_passwords.put(fingerprint, user)
    return user


class BasicAuth(HttpBasicAuth):
    """HTTP basic auth for scripts, checked against Django's users (see VerifiedPasswords)."""

    def __call__(self, request: HttpRequest) -> AbstractBaseUser | None:
        value = request.headers.get("Authorization", "")
        if value.partition(" ")[0].lower() != "basic":
            return None
        try:
            username, password = self.decode_authorization(value)
        except DecodeError:
            raise CredentialsRefused("malformed basic credentials") from None
        return self.authenticate(request, username, password)

    def authenticate(self, request: HttpRequest, username: str, password: str):
        user = basic_credentials_check(request, username, password)
        if user is None:
            raise CredentialsRefused("wrong username or password")
        request.user = user
        return user


# The browser's session -----------------------------------------------------------------------


class SessionAuth(APIKeyCookie):
    """The signed-in browser session, CSRF token required on unsafe methods.

    django-ninja's own checks CSRF before it looks at the user, so a request with no
    credentials at all got a CSRF 403; here only a signed-in session is checked.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> AbstractBaseUser | None:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)  # raises the CSRF 403

    def authenticate(self, request: HttpRequest, key: str | None) -> AbstractBaseUser:
        return request.user


def anonymous(request: HttpRequest) -> AnonymousUser:
    """The last resort of operations open to everyone: no credentials, no error."""
    return AnonymousUser()


anonymous.allows_anonymous = (
    True  # the OpenAPI lists `{}` beside the ways in (atom_site/openapi.py)
)


# Every secured operation takes these; a key first, as most calls come from clients.
SIGNED_IN = [ApiKeyBearer(), ApiKeyInHeader(), BasicAuth(), SessionAuth()]
# Operations open to everyone that show more to some users (staff see unapproved skills):
# wrong credentials are still a 401, none at all is an anonymous call.
SIGNED_IN_OR_ANONYMOUS = [*SIGNED_IN, anonymous]


# What a signed-in request may do -------------------------------------------------------------


def request_api_key(request: HttpRequest) -> ApiKey | None:
    """The API key the request was signed in with, if it was."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def staff_require(request: HttpRequest, action: str) -> None:
    """Refuse (403, through the API's handler) anyone who is not staff."""
    if not request.user.is_staff:
        raise PermissionDenied(f"only staff users may {action}")


def scope_require(request: HttpRequest, scope: str) -> None:
    """Refuse (403) a request signed in with a key that lacks `scope`.

    A session or basic-auth user holds every scope: what they may do is what their user may
    (staff-only operations check staff as well, whatever the scope).
    """
    if scope not in SCOPES:
        raise ValueError(f"no such scope: {scope!r}")
    key = request_api_key(request)
    if key is not None and scope not in key.scopes:
        raise PermissionDenied(f"this key lacks the {scope!r} scope")


def key_agent_require(
    request: HttpRequest, *, skills: Iterable[Model], agent_slug: str | None = None
) -> Model | None:
    """The agent (`skills.Agent`) a key bound to one acts for, after refusing (403) another
    agent's name in `agent_slug` or a skill not mapped to the key's agent; None for any other
    sign-in. (Through the key's relations: perf imports this module and no app.)"""
    key = request_api_key(request)
    if key is None or key.agent_id is None:
        return None
    agent = key.agent
    if agent_slug is not None and agent_slug != agent.slug:
        raise PermissionDenied(f"this key acts for agent {agent.slug!r} only")
    skill_ids = {skill.pk: skill.slug for skill in skills}
    mapped = set(agent.mappings.filter(skill_id__in=skill_ids).values_list("skill_id", flat=True))
    unmapped = sorted(slug for pk, slug in skill_ids.items() if pk not in mapped)
    if unmapped:
        raise PermissionDenied(
            f"this key's agent {agent.slug!r} is not mapped to: {', '.join(unmapped)}"
        )
    return agent
