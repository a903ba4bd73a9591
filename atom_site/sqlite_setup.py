"""SQLite's process-wide setup: memory statistics off, so that threads query in parallel.

With memory statistics on (SQLite's default) every allocation takes one mutex global to the
process. Full-text ranking allocates for every matched row, so two threads ranking at once
took as long as one after the other (docs/decisions.md has the figures). The marketplace's
search helpers and the web's request threads run that way. SQLite
itself recommends building with SQLITE_DEFAULT_MEMSTATUS=0; Python's `sqlite3` does not expose
`sqlite3_config`, so it is called through ctypes, on the library `_sqlite3` is linked to.

`sqlite3_config` only works before SQLite initializes (at its first connection), so the
settings call this first thing. Where that is too late (a notebook kernel has its history
database open) or the library is linked into Python, the statistics stay on: it is slower
with threads, never wrong.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import sys
from pathlib import Path

SQLITE_OK = 0
SQLITE_CONFIG_MEMSTATUS = 9
_PROCESS_MAPS = Path("/proc/self/maps")
_SONAME = re.compile(rb"libsqlite3\.so(?:\.\d+)*")


def sqlite_memory_statistics_off() -> bool:
    """Turn SQLite's memory statistics off for this process; True when that took effect.

    Importing `_sqlite3` initializes SQLite, so the library is configured before that, loaded
    by the name `_sqlite3` is linked to; afterwards the process must have that one SQLite
    mapped, not a second copy.
    """
    if "_sqlite3" in sys.modules:
        return False
    name = _linked_sqlite_name()
    if name is None:
        return False
    try:
        library = ctypes.CDLL(name)
    except OSError:
        return False
    if library.sqlite3_config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) != SQLITE_OK:
        return False
    return len(_mapped_sqlite_paths()) == 1


def sqlite_library() -> ctypes.CDLL | None:
    """The SQLite library Python's `sqlite3` module uses, when it is a shared library."""
    paths = _mapped_sqlite_paths()
    return ctypes.CDLL(paths[0]) if len(paths) == 1 else None


def _linked_sqlite_name() -> str | None:
    """The shared SQLite `_sqlite3` is linked to (its name as the extension records it), or
    None when SQLite is linked into it or this is not an ELF system."""
    spec = importlib.util.find_spec("_sqlite3")
    if spec is None or not spec.origin or not spec.origin.endswith(".so"):
        return None
    match = _SONAME.search(Path(spec.origin).read_bytes())
    return match.group().decode() if match else None


def _mapped_sqlite_paths() -> list[str]:
    import _sqlite3  # noqa: F401 - maps the library it is linked to

    try:
        maps = _PROCESS_MAPS.read_text()
    except OSError:  # not Linux
        return []
    paths = {line.split(maxsplit=5)[-1] for line in maps.splitlines() if "libsqlite3" in line}
    return sorted(path for path in paths if Path(path).name.startswith("libsqlite3.so"))
