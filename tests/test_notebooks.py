"""Every analyst notebook runs from top to bottom against the test database."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import database_url_for_processes

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_without_errors(path, monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", database_url_for_processes())
    monkeypatch.setenv("REDIS_URL", settings.REDIS_URL)
    monkeypatch.setenv("ATOM_DATA_DIR", str(settings.ATOM_DATA_DIR))
    monkeypatch.setenv("ATOM_KEY_PREFIX", settings.ATOM_KEY_PREFIX)
    notebook = nbformat.read(path, as_version=4)

    NotebookClient(
        notebook, timeout=120, resources={"metadata": {"path": str(path.parent)}}
    ).execute()

    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "execute_result" for o in outputs)
