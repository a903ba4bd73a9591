"""SQLite's memory statistics are off in every process that loads the settings.

Each case runs in a fresh interpreter: the setting is process-wide and only takes effect
before SQLite's first connection. With the statistics off, SQLite reports no memory in use
even while a connection holds some, which is what the cases read.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MEMORY_USED = """
import ctypes
from atom_site.sqlite_setup import sqlite_library
library = sqlite_library()
library.sqlite3_memory_used.restype = ctypes.c_int64
"""


def _run(*parts: str) -> str:
    """Run the parts (each dedented) as one script in a new interpreter; its output."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "atom_site.settings"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.fixture(autouse=True)
def _shared_sqlite_library():
    from atom_site.sqlite_setup import sqlite_library

    if sqlite_library() is None:
        pytest.skip("this Python's SQLite is not a shared library it can configure")


def test_a_process_with_the_settings_queries_sqlite_without_memory_statistics():
    output = _run(
        """
        import django
        django.setup()
        import sqlite3
        from django.conf import settings
        connection = sqlite3.connect(":memory:")
        connection.execute("CREATE TABLE t (x)")
        """,
        MEMORY_USED,
        """
        print(settings.SQLITE_MEMORY_STATISTICS_OFF, library.sqlite3_memory_used())
        """,
    )
    assert output == "True 0"


def test_without_it_sqlite_counts_its_memory():
    output = _run(
        """
        import sqlite3
        connection = sqlite3.connect(":memory:")
        connection.execute("CREATE TABLE t (x)")
        """,
        MEMORY_USED,
        """
        print(library.sqlite3_memory_used() > 0)
        """,
    )
    assert output == "True"


def test_after_the_first_connection_it_is_too_late_and_says_so():
    output = _run(
        """
        import sqlite3
        connection = sqlite3.connect(":memory:")
        from atom_site.sqlite_setup import sqlite_memory_statistics_off
        """,
        MEMORY_USED,
        """
        print(sqlite_memory_statistics_off(), library.sqlite3_memory_used() > 0)
        """,
    )
    assert output == "False True"
