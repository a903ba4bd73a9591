"""For fault tests that need something of the host (root, mounts, a server program): without
it they skip on a developer's machine but fail under CI=true, so CI never passes untested."""

import os

import pytest


def needs(is_available: bool, reason: str) -> None:
    if is_available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: this fault test must run)")
    pytest.skip(reason)
