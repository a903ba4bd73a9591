"""`make notebook` (bin/notebook) starts JupyterLab from the project's own environment: it prints
the URL with its token, answers with that token, refuses without it, and offers the project's
Python kernel."""

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

from tests.conftest import ROOT


def test_make_notebook_serves_jupyterlab_behind_the_printed_token(free_port, tmp_path):
    env = {**os.environ, "ATOM_NOTEBOOK_PORT": str(free_port), "ATOM_DATA_DIR": str(tmp_path),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}  # fmt: skip
    process = subprocess.Popen(
        [str(ROOT / "bin" / "notebook")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        url = next(line for line in process.stdout if line.startswith("atom: JupyterLab at "))
        url = url.removeprefix("atom: JupyterLab at ").strip()
        token = url.split("token=", 1)[1]
        specs = f"http://127.0.0.1:{free_port}/api/kernelspecs"
        answer = None
        deadline = time.monotonic() + 90
        while answer is None and time.monotonic() < deadline:
            assert process.poll() is None, "JupyterLab stopped"
            try:
                with urllib.request.urlopen(f"{specs}?token={token}", timeout=5) as response:
                    answer = json.load(response)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert answer is not None, "JupyterLab did not answer"
        assert "python3" in answer["kernelspecs"]
        assert answer["kernelspecs"]["python3"]["spec"]["language"] == "python"
        try:
            urllib.request.urlopen(specs, timeout=5)
            refused = None
        except urllib.error.HTTPError as error:
            refused = error.code
        assert refused == 403
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
