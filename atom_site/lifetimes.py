"""Children that do not outlive their parent: Linux's parent-death signal."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def parent_death_signal(signum: int) -> Callable[[], None] | None:
    """A `preexec_fn` after which the child is sent `signum` when the thread that forked it
    ends (PR_SET_PDEATHSIG); None where the platform has no such thing.

    A parent that died between the fork and the call would never send it: the child then
    sends it to itself.
    """
    if _LIBC is None:
        return None
    prctl = _LIBC.prctl
    parent = os.getpid()

    def signal_set() -> None:
        prctl(PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:
            os.kill(os.getpid(), signum)

    return signal_set
