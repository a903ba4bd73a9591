"""Running the installers' programs (`skills.installer.process.run_logged`)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skills.installer.process import _setpriv, dying_with_parent, run_logged

ROOT = Path(__file__).resolve().parents[3]

# A builder that starts a long child through run_logged and prints the child's pid.
BUILDER = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atom_site.settings")
import django
django.setup()
from skills.installer.process import run_logged
run_logged(
    [sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"],
    log=lambda line: print(line, flush=True),
    env=dict(os.environ),
    timeout=120,
)
"""


def process_exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_program_dies_with_the_builder_that_started_it(process_env):
    builder = subprocess.Popen(
        [sys.executable, "-c", BUILDER],
        env=process_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert builder.stdout.readline().startswith("$ ")
        child = int(builder.stdout.readline())
        assert process_exists(child)
        builder.send_signal(signal.SIGKILL)
        builder.wait()
        deadline = time.monotonic() + 10
        while process_exists(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_exists(child)
    finally:
        builder.kill()
        builder.wait()


@pytest.mark.skipif(_setpriv() is None, reason="needs util-linux's setpriv")
def test_with_setpriv_no_python_runs_between_fork_and_exec():
    command, preexec_fn = dying_with_parent(["uv", "--version"])
    assert command[-3:] == ["--", "uv", "--version"]
    assert "--pdeathsig" in command
    assert preexec_fn is None


def test_output_is_logged_line_by_line_and_the_exit_code_kept(tmp_path):
    lines: list[str] = []
    result = run_logged(
        [sys.executable, "-c", "print('one'); print('two'); raise SystemExit(3)"],
        log=lines.append,
        env=dict(os.environ),
        timeout=30,
    )
    assert lines[0].startswith("$ ")
    assert "setpriv" not in lines[0]
    assert lines[1:] == ["one", "two"]
    assert result.returncode == 3
    assert result.output == "one\ntwo"
