"""The suite fails on lint, formatting or a forgotten migration."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import database_url_for_processes

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_ruff_check_passes():
    result = subprocess.run([BIN / "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ruff_format_check_passes():
    result = subprocess.run(
        [BIN / "ruff", "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_no_migration_is_missing(transactional_db):
    # The system checks of a PostgreSQL generated column ask the server its version, so the
    # command must point at a database that exists: this session's test database.
    env = {**os.environ, "DATABASE_URL": database_url_for_processes()}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_keep_to_the_layers():
    """The import contracts in pyproject.toml: entry points -> domain -> models, perf imports
    no app, and no wing imports another wing's entry points."""
    result = subprocess.run(
        [BIN / "lint-imports", "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
