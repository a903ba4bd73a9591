"""Install slots: at most `MAX_CONCURRENT_INSTALLATIONS` builds run at once across every worker
process and host, not only within one batch.

A slot is a row (`InstallSlot`, numbers 0 … N-1). A build takes a free one with one conditional
UPDATE that sets its own token, as it claims an environment; a holder that died is replaced when
its process is gone (same host) or its heartbeat is stale (any host). A build that finds every
slot held waits, polling, until one is released.

The slot's number also names the build's working directory (`.tmp/slot-<n>`): the same path
build after build, so uv finds the interpreter of the new virtualenv in its cache instead of
querying it again (about a third of a small build's time).
"""

import os
import secrets
import socket
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from skills.installer.backends import InstallError
from skills.installer.process import LogWriter, holder_is_dead
from skills.models import InstallSlot

SLOT_POLL_SECONDS = 0.05


class SlotUnavailable(InstallError):
    """No install slot became free before the wait's deadline."""


@dataclass(frozen=True)
class SlotClaim:
    number: int
    token: str

    @property
    def directory_name(self) -> str:
        return f"slot-{self.number}"


def slots_count() -> int:
    return settings.MAX_CONCURRENT_INSTALLATIONS


def slots_ensure(count: int) -> None:
    """The rows for slots 0 … count-1 exist (created once; the unique number decides races)."""
    if InstallSlot.objects.filter(number__lt=count).count() == count:
        return
    InstallSlot.objects.bulk_create(
        [InstallSlot(number=number) for number in range(count)], ignore_conflicts=True
    )


def slot_try_claim(*, environment_key: str) -> SlotClaim | None:
    """Take the lowest free slot (or one whose holder died), or None when all are held."""
    count = slots_count()
    slots_ensure(count)
    now = timezone.now()
    for slot in InstallSlot.objects.filter(number__lt=count).order_by("number"):
        if slot.token and not holder_is_dead(
            host=slot.host, pid=slot.pid, heartbeat_at=slot.heartbeat_at
        ):
            continue
        # Conditional on what was seen: of two takers of one slot, one wins.
        token = secrets.token_hex(16)
        claimed = InstallSlot.objects.filter(token=slot.token, number=slot.number).update(
            token=token,
            environment_key=environment_key,
            host=socket.gethostname(),
            pid=os.getpid(),
            claimed_at=now,
            heartbeat_at=now,
        )
        if claimed:
            return SlotClaim(slot.number, token)
    return None


def slot_acquire(*, environment_key: str, log: LogWriter, timeout: float) -> SlotClaim:
    """Wait for a slot (raises `SlotUnavailable` after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        claim = slot_try_claim(environment_key=environment_key)
        if claim is not None:
            return claim
        if not announced:
            log(
                f"waiting for an install slot: {slots_count()} builds are running "
                "across the cluster (MAX_CONCURRENT_INSTALLATIONS)"
            )
            announced = True
        if time.monotonic() > deadline:
            raise SlotUnavailable(f"no install slot became free within {timeout:g} s")
        time.sleep(SLOT_POLL_SECONDS)


def slot_heartbeat(claim: SlotClaim) -> None:
    InstallSlot.objects.filter(number=claim.number, token=claim.token).update(
        heartbeat_at=timezone.now()
    )


def slot_release(claim: SlotClaim) -> None:
    InstallSlot.objects.filter(number=claim.number, token=claim.token).update(
        token="", environment_key="", pid=None, heartbeat_at=None
    )


def slots_held() -> list[SlotClaim]:
    held = InstallSlot.objects.exclude(token="").order_by("number")
    return [SlotClaim(slot.number, slot.token) for slot in held]
