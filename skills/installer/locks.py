"""Kept resolutions: a lockfile per (requirement set, interpreter, platform, resolver, index),
so a set resolved once is installed from its lock next time, offline first.

A lock is kept only after an environment installed from it and verified, and it is checked
(`lock_check`) before it is written and again when it is read: a lock that does not parse is
discarded and the set resolved again, never handed to an installer (one lock with a colour
code in it once failed every later install of its set).
"""

import json
import logging
import os
import re
import secrets
from pathlib import Path

from django.conf import settings
from packaging.requirements import InvalidRequirement, Requirement

logger = logging.getLogger(__name__)

# uv's `pip compile --generate-hashes` and the pip backend's lock: pins, hashes, comments.
REQUIREMENTS = "requirements"
# npm's package-lock.json.
NPM = "npm"
LOCK_FORMATS = (REQUIREMENTS, NPM)

# Everything below a space but the tab and the newline, and DEL: never in a lock.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
HASH = re.compile(r"--hash=(sha256|sha384|sha512):[0-9a-f]+")


class LockInvalid(ValueError):
    """A lock that no installer should be given, with the line and the reason."""


def locks_dir() -> Path:
    return Path(settings.ATOM_DATA_DIR) / "locks"


def lock_path(key: str) -> Path:
    return locks_dir() / f"{key}.lock"


def lock_format_of(text: str) -> str:
    """The format a stored lock is in (npm's is JSON; the others are requirement lines)."""
    return NPM if text.lstrip().startswith("{") else REQUIREMENTS


def _requirements_check(text: str) -> None:
    logical: list[tuple[int, str]] = []  # (first line number, the line with its continuations)
    pending = ""
    for number, line in enumerate(text.split("\n"), start=1):
        if not pending:
            start = number
        stripped = line.strip()
        if stripped.startswith("#"):
            if pending:
                raise LockInvalid(f"line {number}: a comment inside a continued line")
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        if pending.strip():
            logical.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        raise LockInvalid(f"line {start}: the last line is continued with nothing after it")
    for number, line in logical:
        line = re.split(r"\s+#", line, maxsplit=1)[0]  # a trailing comment
        requirement, _, hashes = line.partition(" --hash=")
        hashes = f"--hash={hashes}" if hashes else ""
        try:
            parsed = Requirement(requirement.strip())
        except InvalidRequirement as error:
            raise LockInvalid(f"line {number}: not a requirement: {error}") from None
        pins = [spec for spec in parsed.specifier if spec.operator in ("==", "===")]
        if parsed.url or len(pins) != 1 or len(parsed.specifier) != 1:
            raise LockInvalid(f"line {number}: {requirement.strip()!r} is not one exact pin")
        for option in hashes.split():
            if not HASH.fullmatch(option):
                raise LockInvalid(f"line {number}: {option[:60]!r} is not a hash")


def _npm_check(text: str) -> None:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise LockInvalid(f"not JSON: {error}") from None
    if not isinstance(data, dict) or "lockfileVersion" not in data:
        raise LockInvalid("not a package-lock.json (no lockfileVersion)")


def lock_check(text: str, *, lock_format: str) -> None:
    """Raise `LockInvalid` unless `text` is a whole lock of `lock_format`: no control
    characters; for requirements, each line a pin (`name==version`, markers allowed), a
    `--hash=` or a comment; for npm, a package-lock.json."""
    if lock_format not in LOCK_FORMATS:
        raise ValueError(f"unknown lock format {lock_format!r}")
    found = CONTROL.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        raise LockInvalid(f"line {line}: control character {found.group()!r}")
    if lock_format == NPM:
        _npm_check(text)
    else:
        _requirements_check(text)


def lock_discard(key: str) -> None:
    lock_path(key).unlink(missing_ok=True)


def lock_load(key: str, *, lock_format: str) -> str | None:
    """The kept lock of `key`, or None. A lock that fails `lock_check` is discarded (and
    logged): the caller resolves again, as if it had never been kept."""
    try:
        text = lock_path(key).read_text(errors="replace")
    except FileNotFoundError:
        return None
    try:
        lock_check(text, lock_format=lock_format)
    except LockInvalid as error:
        logger.warning("kept lock %s is corrupt (%s); discarded", key, error)
        lock_discard(key)
        return None
    return text


def lock_save(key: str, text: str, *, lock_format: str) -> None:
    """Check, then write atomically: readers see the old lock or the whole new one, never
    part of one. Raises `LockInvalid` (nothing is written) for a lock that does not parse."""
    lock_check(text, lock_format=lock_format)
    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{key}.{os.getpid()}.{secrets.token_hex(4)}"
    temporary.write_text(text)
    os.replace(temporary, lock_path(key))
