"""API keys: made once, shown once, kept as a SHA-256 digest, checked in one query.

A token reads `atom_<public_id>_<secret>`: the public id (12 hex characters) finds the row
through a unique index, and the secret (43 letters and digits, ~256 bits) is compared with the
stored digest in constant time. A secret that strong needs no salt and no slow hash: SHA-256
costs a microsecond, where the PBKDF2 of a password costs a third of a second.
"""

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone

from atom_site.generations import ProcessCopies, SharedGeneration
from atom_site.models import ApiKey, ApiKeyScope
from atom_site.rows import ForeignKeyRead

TOKEN_PREFIX = "atom"
PUBLIC_ID_BYTES = 6  # 12 hex characters
SECRET_LENGTH = 43
SECRET_ALPHABET = string.ascii_letters + string.digits
# last_used_at is written at most once per key per this interval, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
SCOPES = tuple(ApiKeyScope.values)
# Bumped by every change to a key: each process's copies of keys are trusted only while the
# generation is the one they were read under.
KEYS_GENERATION = SharedGeneration("api-keys:generation")


class ApiKeyInvalid(ValueError):
    """A key asked for with bad input; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ApiKeyRefused(Exception):
    """A token that does not sign anyone in; the message says why (safe to show its sender)."""


@dataclass(frozen=True)
class ParsedToken:
    public_id: str
    secret: str


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_parse(token: str) -> ParsedToken | None:
    """The parts of a well-formed token, or None."""
    prefix, _, rest = token.strip().partition("_")
    public_id, _, secret = rest.partition("_")
    if (
        prefix != TOKEN_PREFIX
        or len(public_id) != 2 * PUBLIC_ID_BYTES
        or any(character not in "0123456789abcdef" for character in public_id)
        or len(secret) != SECRET_LENGTH
        or any(character not in SECRET_ALPHABET for character in secret)
    ):
        return None
    return ParsedToken(public_id=public_id, secret=secret)


def scopes_clean(scopes: Iterable[str]) -> list[str]:
    """The scopes in their canonical order; an unknown or missing scope is an ApiKeyInvalid."""
    wanted = [scope.strip() for scope in scopes if scope.strip()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise ApiKeyInvalid(
            "scopes",
            f"unknown scope(s) {', '.join(map(repr, unknown))}; use {', '.join(SCOPES)}",
        )
    if not wanted:
        raise ApiKeyInvalid("scopes", f"give at least one of {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in wanted]


@transaction.atomic
def api_key_create(
    *,
    owner: AbstractBaseUser,
    name: str,
    scopes: Iterable[str],
    agent=None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a key for `owner` and return it with its token: the only time the token exists.

    Raises ApiKeyInvalid (naming the field) before anything is written.
    """
    name = name.strip()
    if not name:
        raise ApiKeyInvalid("name", "give the key a name (what or who will use it)")
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise ApiKeyInvalid("name", "at most 200 characters")
    clean_scopes = scopes_clean(scopes)
    if not owner.is_active:
        raise ApiKeyInvalid("owner", f"{owner.get_username()} is not an active user")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyInvalid("expires_at", "is in the past")
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    while True:
        public_id = secrets.token_hex(PUBLIC_ID_BYTES)
        if not ApiKey.objects.filter(public_id=public_id).exists():
            break
    key = ApiKey.objects.create(
        public_id=public_id,
        digest=secret_digest(secret),
        owner=owner,
        agent=agent,
        name=name,
        scopes=clean_scopes,
        expires_at=expires_at,
    )
    return key, f"{TOKEN_PREFIX}_{public_id}_{secret}"


def api_key_revoke(*, key: ApiKey) -> bool:
    """Revoke a key at once (the next request with it is a 401). False if it already was."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        key.revoked_at = now
        api_keys_changed()
    return bool(revoked)


def api_keys_changed() -> None:
    """A key's row changed (revoked, scopes, expiry…): every process reads keys afresh from
    the next request on. Bumped when the change commits, so no process can read the old row
    again under the new generation."""
    transaction.on_commit(KEYS_GENERATION.bump)


def api_key_check(token: str) -> ApiKey:
    """The key a token stands for, with its owner loaded, in one query.

    Raises ApiKeyRefused when the token is malformed, unknown, wrong, revoked, expired, or its
    owner was deactivated. Records the use (`last_used_at`) at most once a minute per key.
    """
    parsed = token_parse(token)
    if parsed is None:
        raise ApiKeyRefused("malformed API key: expected atom_<id>_<secret>")
    key = _key_cached_or_read(parsed.public_id)
    if key is None or not hmac.compare_digest(key.digest, secret_digest(parsed.secret)):
        raise ApiKeyRefused("unknown API key")
    now = timezone.now()
    state = key.state(now)
    if state != "active":
        raise ApiKeyRefused(f"this API key is {state}")
    if not key.owner.is_active:
        raise ApiKeyRefused("this API key's owner is deactivated")
    _last_used_record(key, now)
    return key


def api_key_authenticate(token: str) -> ApiKey | None:
    """The key a token stands for, or None (see api_key_check for the reasons)."""
    try:
        return api_key_check(token)
    except ApiKeyRefused:
        return None


# `ApiKey.objects.select_related("owner").filter(public_id=…).first()` as plain SQL: compiling
# that query cost Django far more than running it, and most of what a key may add to a call
# (docs/decisions.md, "API keys", has the figures). The agent is not joined (the join is paid
# on every call on PostgreSQL): a bound key loads it when a check needs it.
_KEY_WITH_OWNER = ForeignKeyRead(ApiKey, through="owner", where="public_id")


def _key_with_owner(public_id: str) -> ApiKey | None:
    key = _KEY_WITH_OWNER.first(public_id, using=router.db_for_read(ApiKey))
    if key is not None and key.agent_id is None:
        ApiKey._meta.get_field("agent").set_cached_value(key, None)  # known: no query
    return key


# The keys this process served lately, with their owners: no read of the database, and with Redis
# none of the shared cache either (atom_site/generations.py).
_copies: ProcessCopies[ApiKey] = ProcessCopies(
    KEYS_GENERATION, max_age=lambda: settings.ATOM_API_KEY_CACHE_SECONDS
)


def _key_cached_or_read(public_id: str) -> ApiKey | None:
    """The key, from this process's copy while no key changed since it was read."""
    return _copies.get_or_read(public_id, lambda: _key_with_owner(public_id))


def _last_used_record(key: ApiKey, now: datetime) -> None:
    # A write per request would serialize every key's callers on SQLite's one writer; the
    # condition in the UPDATE keeps concurrent requests from writing it twice in a minute.
    stale = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at >= stale:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=key.pk
    ).update(last_used_at=now)
    key.last_used_at = now
