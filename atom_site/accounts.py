"""The first admin account, created by `make up` on a fresh data dir."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction


@dataclass(frozen=True)
class AdminAccount:
    username: str
    created: bool
    generated_password: str | None


@transaction.atomic
def admin_ensure(*, username: str, email: str, password: str = "") -> AdminAccount:
    """Create the superuser once; a generated password is returned so it can be shown once."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return AdminAccount(username, created=False, generated_password=None)
    generated = None if password else secrets.token_urlsafe(12)
    user_model.objects.create_superuser(
        username=username, email=email, password=password or generated
    )
    return AdminAccount(username, created=True, generated_password=generated)
