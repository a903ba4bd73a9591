"""Start the real stack as `make up` does, wait for green health, stop it, leave nothing."""

import signal
import subprocess
import time

import psutil
import pytest

from atom_site.stack import health_fetch

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_up_starts_a_green_stack_and_ctrl_c_leaves_no_process(manage_py, process_env, free_port):
    up = _up(manage_py, process_env, free_port)
    try:
        started = _green_stack(up, free_port)

        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, output
    assert "Atom stopped; no process left behind." in output
    assert [p.pid for p in started if _is_alive(p)] == []


def test_a_supervisor_killed_outright_leaves_no_process(manage_py, process_env, free_port):
    up = _up(manage_py, process_env, free_port)
    try:
        started = _green_stack(up, free_port)

        up.kill()  # SIGKILL: no handler of its own stops anything
        up.communicate(timeout=10)
        _, alive = psutil.wait_procs(started, timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
    assert [process.pid for process in alive if _is_alive(process)] == []


def _up(manage_py: list[str], process_env: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [*manage_py, "up", "--port", str(port), "--no-demo"],
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _green_stack(up: subprocess.Popen, port: int) -> list[psutil.Process]:
    """Once health is green: every process `up` started, web, workers and watcher among them."""
    answer = _wait_for_green(f"http://127.0.0.1:{port}/api/health", up, timeout=90)
    assert answer["status"] == "ok", answer
    started = psutil.Process(up.pid).children(recursive=True)
    assert {"uvicorn", "qcluster", "watch"} <= _roles(started)
    return started


def _wait_for_green(url: str, up: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    answer: dict | None = None
    while time.monotonic() < deadline:
        assert up.poll() is None, up.stdout.read()
        answer = health_fetch(url)
        if answer and answer["status"] == "ok":
            return answer
        time.sleep(0.25)
    return answer or {"status": "no answer"}


def _roles(processes: list[psutil.Process]) -> set[str]:
    words = set()
    for process in processes:
        try:
            words.update(" ".join(process.cmdline()).split())
        except psutil.NoSuchProcess:
            continue
    return {word.rsplit(".", 1)[-1] for word in words if word in {"uvicorn", "qcluster", "watch"}}


def _is_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
