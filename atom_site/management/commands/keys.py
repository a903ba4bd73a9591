"""`manage.py keys create | list | revoke`: API keys from the command line (atom_site/keys.py)."""

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from atom_site.keys import SCOPES, ApiKeyInvalid, api_key_create, api_key_revoke, token_parse
from atom_site.models import ApiKey
from skills.models import Agent

DURATION = re.compile(r"^(\d+)([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The domain's field names as this command's options, for its messages.
OPTIONS = {"name": "--name", "scopes": "--scope", "owner": "--user", "expires_at": "--expires-in"}


class Command(BaseCommand):
    help = "Create, list and revoke API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a key and print its token, once")
        create.add_argument("--user", required=True, help="the username the key signs in as")
        create.add_argument("--name", required=True, help="what or who will use the key")
        create.add_argument(
            "--scope",
            action="append",
            required=True,
            help=f"repeat, or separate with commas: {', '.join(SCOPES)}",
        )
        create.add_argument("--agent", help="bind the key to an agent (its slug)")
        create.add_argument("--expires-in", help="e.g. 90d, 12h, 30m (default: never)")
        listing = actions.add_parser("list", help="keys, owners, scopes, last use")
        listing.add_argument("--user", help="only this user's keys")
        revoke = actions.add_parser("revoke", help="revoke a key at once")
        revoke.add_argument("key", help="the key's public id, or its whole token")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    def handle_create(
        self,
        *,
        user: str,
        name: str,
        scope: list[str],
        agent: str | None,
        expires_in: str | None,
        **_,
    ) -> None:
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"--user: no such user {user!r}")
        bound = None
        if agent is not None:
            bound = Agent.objects.filter(slug=agent).first()
            if bound is None:
                raise CommandError(f"--agent: no such agent {agent!r}")
        expires_at = None if expires_in is None else timezone.now() + _duration(expires_in)
        scopes = [part for value in scope for part in value.split(",")]
        try:
            key, token = api_key_create(
                owner=owner, name=name, scopes=scopes, agent=bound, expires_at=expires_at
            )
        except ApiKeyInvalid as invalid:
            option = OPTIONS.get(invalid.field, invalid.field)
            raise CommandError(f"{option}: {invalid.message}") from None
        self.stderr.write(
            f"API key {key.public_id} ({key.name}) for {owner.get_username()}, "
            f"scopes {', '.join(key.scopes)}. The token below is shown this once:"
        )
        self.stdout.write(token)

    def handle_list(self, *, user: str | None, **_) -> None:
        keys = ApiKey.objects.select_related("owner", "agent").order_by("owner__username", "name")
        if user is not None:
            keys = keys.filter(owner__username=user)
        now = timezone.now()
        self.stdout.write(
            f"{'id':<14}{'state':<9}{'owner':<16}{'agent':<16}{'last used':<18}"
            f"{'expires':<18}{'scopes':<34}name"
        )
        for key in keys:
            self.stdout.write(
                f"{key.public_id:<14}{key.state(now):<9}{key.owner.get_username():<16}"
                f"{key.agent.slug if key.agent else '-':<16}{_when(key.last_used_at):<18}"
                f"{_when(key.expires_at):<18}{','.join(key.scopes):<34}{key.name}"
            )

    def handle_revoke(self, *, key: str, **_) -> None:
        parsed = token_parse(key)
        public_id = parsed.public_id if parsed is not None else key.strip()
        found = ApiKey.objects.filter(public_id=public_id).first()
        if found is None:
            raise CommandError(f"key: no API key {public_id!r}")
        if api_key_revoke(key=found):
            self.stdout.write(f"revoked {found.public_id} ({found.name})")
        else:
            self.stdout.write(f"{found.public_id} ({found.name}) was already revoked")


def _duration(text: str) -> timedelta:
    match = DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--expires-in: {text!r}: use a number and a unit, e.g. 90d, 12h, 30m")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
