"""Bytecode compiled once per cached wheel, in uv's cache, and hardlinked into every environment.

uv installs by hardlinking the unpacked wheels of its cache (`archive-v0/<id>/…`) into the new
environment, every file of the directory, `__pycache__` included. A fresh environment otherwise
has no bytecode, and its verification (importing each requirement) compiles every module it
imports: for `requests` that was half of the whole build. So once a build is ready, the cached
wheels it was made of are compiled in place, in the background, with the environment's own
interpreter; every later environment made of them gets the `.pyc` files by hardlink, for free.

It is safe to share them: a `.pyc` is checked against its source's mtime and size, and the
source is the same hardlinked file; CPython replaces a `.pyc` by writing a new file and renaming
it, never in place, so an environment can never change the cache's copy. A marker per archive
and interpreter tag (kept beside the cache) records that an archive was compiled.
"""

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

from django.conf import settings

from skills.installer.keys import Interpreter
from skills.installer.process import child_environment, run_logged

logger = logging.getLogger(__name__)

ARCHIVE_BUCKET = "archive-v0"

# Run by the environment's interpreter: the cached archives this environment was linked from
# (matched by the inode of each distribution's METADATA), compiled unless marked done.
CACHE_COMPILE = r"""
import compileall, json, os, sys

site_packages, archive_root, marker_root = sys.argv[1:4]

def metadata_inode(directory):
    try:
        stat = os.stat(os.path.join(directory, "METADATA"))
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)

try:
    entries = os.listdir(site_packages)
except OSError:  # the environment was deleted meanwhile
    entries = []
linked = {
    metadata_inode(os.path.join(site_packages, entry))
    for entry in entries
    if entry.endswith(".dist-info")
}
linked.discard(None)
os.makedirs(marker_root, exist_ok=True)
tag = sys.implementation.cache_tag
compiled = []
for archive in sorted(os.listdir(archive_root)) if linked else []:
    marker = os.path.join(marker_root, f"{archive}.{tag}")
    if os.path.exists(marker):
        continue
    path = os.path.join(archive_root, archive)
    try:
        entries = os.listdir(path)
    except OSError:
        continue
    if any(
        metadata_inode(os.path.join(path, entry)) in linked
        for entry in entries
        if entry.endswith(".dist-info")
    ):
        compileall.compile_dir(path, quiet=2, workers=1)
        with open(marker, "w"):
            pass
        compiled.append(archive)
print(json.dumps(compiled))
"""


def bytecode_marker_dir() -> Path:
    cache = Path(settings.ATOM_UV_CACHE_DIR)
    return cache.parent / f"{cache.name}.bytecode"


def cache_tag_of(interpreter: Interpreter) -> str:
    """`cpython-3.12.1` → `cpython-312`, as `sys.implementation.cache_tag` names bytecode."""
    implementation, version = interpreter.version.split("-", 1)
    major, minor = version.split(".")[:2]
    return f"{implementation}-{major}{minor}"


def site_packages_of(location: str) -> Path | None:
    found = sorted(Path(location).glob("lib/python*/site-packages"))
    return found[0] if found else None


def cache_bytecode_compile(*, python: str, location: str) -> list[str]:
    """Compile the cached archives the environment at `location` is made of; returns their ids.

    Runs `python` (the environment's interpreter, so the bytecode matches it). Errors are
    logged, never raised: this only makes later builds faster.
    """
    site_packages = site_packages_of(location)
    archives = Path(settings.ATOM_UV_CACHE_DIR) / ARCHIVE_BUCKET
    if site_packages is None or not archives.is_dir():
        return []
    result = run_logged(
        [python, "-I", "-c", CACHE_COMPILE, site_packages, archives, bytecode_marker_dir()],
        log=lambda line: None,
        env=child_environment(),
        timeout=float(settings.ATOM_INSTALL_TIMEOUT),
        capture_stdout=True,
    )
    if not result.ok:
        logger.warning("compiling the uv cache's bytecode failed: %s", result.output[-500:])
        return []
    return json.loads(result.stdout.strip().splitlines()[-1])


def _compile_quietly(*, python: str, location: str) -> None:
    try:
        cache_bytecode_compile(python=python, location=location)
    except RuntimeError as error:
        # The process is exiting: since Python 3.12 nothing starts a thread or a process once
        # the interpreter shuts down. The next build compiles these wheels instead.
        if "interpreter shutdown" not in str(error):
            logger.warning("compiling the uv cache's bytecode failed", exc_info=True)
    except Exception:  # an optimization for later builds: never fatal
        if not sys.is_finalizing():
            logger.warning("compiling the uv cache's bytecode failed", exc_info=True)
    finally:
        with _PENDING_LOCK:
            _PENDING.discard(threading.current_thread())


def _metadata_inode(directory: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(os.path.join(directory, "METADATA"))
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def cache_bytecode_is_missing(*, location: str, cache_tag: str) -> bool:
    """Whether an archive the environment at `location` is made of still lacks bytecode.

    A few directory reads in this process: when every cached wheel is compiled already (the
    usual case once the cache is warm), no interpreter is started at all.
    """
    archives = Path(settings.ATOM_UV_CACHE_DIR) / ARCHIVE_BUCKET
    site_packages = site_packages_of(location)
    if not archives.is_dir() or site_packages is None:
        return False
    marker_dir = bytecode_marker_dir()
    markers = set(os.listdir(marker_dir)) if marker_dir.is_dir() else set()
    names = os.listdir(archives)
    unmarked = [name for name in names if f"{name}.{cache_tag}" not in markers]
    if not unmarked:
        return False
    linked = {
        _metadata_inode(os.path.join(site_packages, entry))
        for entry in os.listdir(site_packages)
        if entry.endswith(".dist-info")
    }
    linked.discard(None)
    for name in unmarked:
        archive = archives / name
        try:
            entries = os.listdir(archive)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info") and _metadata_inode(str(archive / entry)) in linked:
                return True
    return False


_PENDING: set[threading.Thread] = set()
_PENDING_LOCK = threading.Lock()


def cache_bytecode_compile_later(*, python: str, location: str) -> threading.Thread:
    """`cache_bytecode_compile` in a background thread: the build that asked has finished.

    A daemon, so that no process waits for it to exit; a short command that wants the work
    done calls `cache_bytecode_wait` before it returns (see there).
    """
    thread = threading.Thread(
        target=_compile_quietly,
        kwargs={"python": python, "location": location},
        name="uv-cache-bytecode",
        daemon=True,
    )
    with _PENDING_LOCK:
        _PENDING.add(thread)
    thread.start()
    return thread


def cache_bytecode_wait(timeout: float | None = None) -> bool:
    """Wait for this process's background compiles; whether none is left running.

    For a command about to exit (`envs ensure`): once the interpreter shuts down, a compile
    can start neither its interpreter nor its output reader (Python 3.12 refuses both), so
    one still under way then would be cut short and print "can't create new thread at
    interpreter shutdown".
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with _PENDING_LOCK:
        pending = list(_PENDING)
    for thread in pending:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in pending)


def bytecode_markers_prune() -> int:
    """Forget the markers of archives uv no longer has (after `uv cache prune`)."""
    markers = bytecode_marker_dir()
    archives = Path(settings.ATOM_UV_CACHE_DIR) / ARCHIVE_BUCKET
    if not markers.is_dir():
        return 0
    removed = 0
    for marker in markers.iterdir():
        if not (archives / marker.name.split(".", 1)[0]).exists():
            marker.unlink(missing_ok=True)
            removed += 1
    return removed
