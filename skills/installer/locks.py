"""Kept resolutions: a lockfile per (requirement set, interpreter, platform, resolver, index),
so a set resolved once is installed from its lock next time, offline first."""

import os
import secrets
from pathlib import Path

from django.conf import settings


def locks_dir() -> Path:
    return Path(settings.ATOM_DATA_DIR) / "locks"


def lock_load(key: str) -> str | None:
    try:
        return (locks_dir() / f"{key}.lock").read_text()
    except FileNotFoundError:
        return None


def lock_save(key: str, text: str) -> None:
    """Write atomically: readers see the old lock or the whole new one, never part of one."""
    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{key}.{os.getpid()}.{secrets.token_hex(4)}"
    temporary.write_text(text)
    os.replace(temporary, directory / f"{key}.lock")
