"""Every analyst notebook runs from top to bottom in a real kernel (nbclient), against the test
database, with a real django-q2 cluster carrying out its workflow runs; an error in any cell
fails the suite. The notebooks are committed without outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT
from tests.processes import qcluster

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# A cell stuck longer than this fails the notebook (a hang guard, not a speed check: the
# notebooks' times are in docs/benchmarks.md).
CELL_TIMEOUT_SECONDS = 120


def test_the_notebooks_are_the_four_of_the_docs():
    assert [path.name for path in NOTEBOOKS] == [
        "01_marketplace_tour.ipynb",
        "02_performance_analysis.ipynb",
        "03_workflow_tuning.ipynb",
        "04_install_cache.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_is_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)

    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [cell.outputs for cell in code] == [[] for _ in code]
    assert {cell.execution_count for cell in code} == {None}


@pytest.fixture
def cluster(process_env):
    with qcluster(process_env, ATOM_Q_WORKERS="2") as process:
        yield process


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_without_errors(path, monkeypatch, process_env, cluster, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "ATOM_DATA_DIR", "ATOM_KEY_PREFIX", "SECRET_KEY"):
        monkeypatch.setenv(name, process_env[name])
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # as `make notebook` sets it
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    notebook = nbformat.read(path, as_version=4)

    try:
        NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT_SECONDS,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        nbformat.write(notebook, tmp_path / path.name)  # with its outputs, to read after a failure

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    assert cluster.poll() is None, "the cluster stopped"
    html = [output for output in outputs if "text/html" in output.get("data", {})]
    assert html  # the DataFrames and cards rendered
