"""The warm verifier: a new environment is verified in a fork of a helper that already imported
the standard library, with the same result and errors as a new interpreter."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from skills.installer import process, verifier
from skills.installer.backends import VerificationError
from skills.installer.backends.base import python_verify
from skills.installer.backends.uv import _BareEnvBuilder
from skills.installer.builder import environment_ensure
from skills.installer.verifier import base_interpreter, environment_verify, zygote_for

ROOT = Path(__file__).resolve().parents[3]

# Writes what the verifying process sees to the file named by the environment variable.
PROBE = """
import importlib.util, json, os, sys, sysconfig
import from_pth
with open(os.environ["ATOM_TEST_PROBE_OUT"], "w") as handle:
    json.dump({
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "prefix": sys.prefix,
        "executable": sys.executable,
        "path": sys.path,
        "purelib": sysconfig.get_paths()["purelib"],
        "from_pth": from_pth.WHERE,
        "django": importlib.util.find_spec("django") is not None,
        "quit": callable(quit),
    }, handle)
"""


@pytest.fixture(autouse=True)
def _own_zygotes():
    verifier.zygotes_stop()
    yield
    verifier.zygotes_stop()


def package_add(environment: Path, name: str, source: str) -> None:
    """A one-module distribution `name` 1.0, installed the way a wheel leaves it."""
    site_packages = next(environment.glob("lib/python*/site-packages"))
    (site_packages / f"{name}.py").write_text(source)
    metadata = site_packages / f"{name}-1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (metadata / "top_level.txt").write_text(name + "\n")


@pytest.fixture
def environment(tmp_path: Path) -> Path:
    """A virtualenv of the interpreter Atom runs on, with a `.pth` file adding a directory."""
    location = tmp_path / "env"
    _BareEnvBuilder(symlinks=True, with_pip=False).create(location)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "from_pth.py").write_text(f"WHERE = {str(extra)!r}\n")
    site_packages = next(location.glob("lib/python*/site-packages"))
    (site_packages / "atom_extra.pth").write_text(str(extra) + "\n")
    return location


@pytest.fixture
def probe_out(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "probe.json"
    monkeypatch.setenv("ATOM_TEST_PROBE_OUT", str(path))
    # Installer programs see only the variables Atom lets through (process.INHERITED).
    monkeypatch.setattr(
        "skills.installer.process.INHERITED",
        (*process.INHERITED, "ATOM_TEST_PROBE_OUT"),
    )
    return path


def verify(environment: Path, *requirements: str, timeout: float = 30) -> tuple[list, list]:
    lines: list[str] = []
    checked = environment_verify(
        spec=SimpleNamespace(requirements=list(requirements)),
        python=environment / "bin" / "python",
        log=lines.append,
        timeout=timeout,
    )
    return checked, lines


def is_gone(pid: int, *, within: float) -> bool:
    """Whether the process ends (or is a zombie nobody reaped yet) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_a_good_environment_is_verified_in_a_child_of_the_warm_verifier(
    environment: Path, probe_out: Path
):
    package_add(environment, "probe", PROBE)
    package_add(environment, "greeting", "HELLO = 'hello'\n")

    checked, lines = verify(environment, "probe", "greeting")

    zygote = zygote_for(base_interpreter(environment / "bin" / "python"))
    assert checked == ["probe", "greeting"]
    assert lines == ["verify: imported probe, greeting"]
    assert zygote.children_started == 1
    seen = json.loads(probe_out.read_text())
    assert seen["ppid"] == zygote.pid
    assert seen["pid"] not in (zygote.pid, os.getpid())

    verify(environment, "greeting")

    assert zygote_for(base_interpreter(environment / "bin" / "python")) is zygote
    assert zygote.children_started == 2


def test_the_child_sees_the_environment_as_its_own_interpreter_does(
    environment: Path, probe_out: Path, tmp_path: Path
):
    package_add(environment, "probe", PROBE)
    site_packages = str(next(environment.glob("lib/python*/site-packages")))

    verify(environment, "probe")

    seen = json.loads(probe_out.read_text())
    assert seen["prefix"] == str(environment)
    assert seen["executable"] == str(environment / "bin" / "python")
    assert seen["purelib"] == site_packages
    assert seen["path"][-2:] == [site_packages, str(tmp_path / "extra")]
    assert not any(str(ROOT) in entry for entry in seen["path"])
    assert seen["from_pth"] == str(tmp_path / "extra")
    assert seen["django"] is False
    assert seen["quit"] is True
    # The same as the environment's own interpreter sees, but its pid and parent.
    probe_out.unlink()
    lines: list[str] = []
    python_verify(
        spec=SimpleNamespace(requirements=["probe"]),
        python=environment / "bin" / "python",
        log=lines.append,
        timeout=30,
    )
    fresh = json.loads(probe_out.read_text())
    assert {**seen, "pid": 0, "ppid": 0} == {**fresh, "pid": 0, "ppid": 0}


def test_a_module_that_does_not_import_fails_as_it_does_in_a_new_interpreter(
    environment: Path,
):
    package_add(environment, "broken", "import imp\n")  # removed in Python 3.12
    spec = SimpleNamespace(requirements=["broken", "absent"])
    python = environment / "bin" / "python"
    warm_lines: list[str] = []
    fresh_lines: list[str] = []

    with pytest.raises(VerificationError) as warm:
        environment_verify(spec=spec, python=python, log=warm_lines.append, timeout=30)
    with pytest.raises(VerificationError) as fresh:
        python_verify(spec=spec, python=python, log=fresh_lines.append, timeout=30)

    assert warm.value.message == (
        "verification failed: broken: import broken failed: ModuleNotFoundError: "
        "No module named 'imp'; absent: not installed"
    )
    assert warm.value.message == fresh.value.message
    assert warm_lines == fresh_lines
    assert zygote_for(base_interpreter(python)).children_started == 1


def test_a_verification_that_hangs_is_killed_at_the_timeout(environment: Path, probe_out: Path):
    package_add(
        environment,
        "sleepy",
        "import os, time\n"
        "open(os.environ['ATOM_TEST_PROBE_OUT'], 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n",
    )
    started = time.monotonic()

    with pytest.raises(VerificationError) as raised:
        verify(environment, "sleepy", timeout=1)

    assert 1 <= time.monotonic() - started < 5
    assert raised.value.message == (
        "verification could not run: killed after the 1 s install timeout"
    )
    assert is_gone(int(probe_out.read_text()), within=2)
    assert zygote_for(base_interpreter(environment / "bin" / "python")).is_alive()


def test_the_warm_verifier_exits_when_its_parent_dies(environment: Path, process_env: dict):
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from skills.installer.verifier import zygote_for\n"
            "print(zygote_for(sys.argv[1]).pid, flush=True)\n"
            "time.sleep(60)\n",
            base_interpreter(environment / "bin" / "python"),
        ],
        env=process_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        zygote_pid = int(parent.stdout.readline())
        assert not is_gone(zygote_pid, within=0.1)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()

    assert is_gone(zygote_pid, within=5)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_process_starts_its_own_warm_verifier(environment: Path):
    zygote = zygote_for(base_interpreter(environment / "bin" / "python"))
    read, write = os.pipe()

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, json.dumps(sorted(verifier._zygotes)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        assert json.loads(answer.read()) == []
    assert zygote.is_alive()


def test_with_the_warm_path_off_a_new_interpreter_verifies(
    environment: Path, probe_out: Path, settings
):
    settings.ATOM_VERIFY_WARM = False
    package_add(environment, "probe", PROBE)

    checked, lines = verify(environment, "probe")

    assert checked == ["probe"]
    assert lines == ["verify: imported probe"]
    assert json.loads(probe_out.read_text())["ppid"] == os.getpid()
    assert verifier._zygotes == {}


def test_a_dead_warm_verifier_is_started_again(environment: Path, probe_out: Path):
    package_add(environment, "probe", PROBE)
    interpreter = base_interpreter(environment / "bin" / "python")
    first = zygote_for(interpreter)
    first.process.kill()
    first.process.wait()

    checked, _ = verify(environment, "probe")

    second = zygote_for(interpreter)
    assert checked == ["probe"]
    assert second.pid != first.pid
    assert json.loads(probe_out.read_text())["ppid"] == second.pid


def test_a_warm_verifier_that_cannot_start_falls_back_and_says_why_once(
    environment: Path, probe_out: Path, monkeypatch, caplog, tmp_path: Path
):
    failing = tmp_path / "failing_helper.py"
    failing.write_text("import sys; sys.exit(3)\n")
    monkeypatch.setattr(verifier, "HELPER_PROGRAM", failing)
    package_add(environment, "probe", PROBE)
    caplog.set_level(logging.WARNING, logger="skills.installer.verifier")

    first, _ = verify(environment, "probe")
    second, _ = verify(environment, "probe")

    assert first == second == ["probe"]
    assert json.loads(probe_out.read_text())["ppid"] == os.getpid()
    assert len(caplog.records) == 1
    assert "no warm verifier for" in caplog.records[0].getMessage()
    assert "the helper exited" in caplog.records[0].getMessage()


@pytest.mark.django_db
def test_a_built_environment_is_verified_by_the_warm_verifier(envs_dir: Path):
    environment = environment_ensure(language="python", requirements=["six"])

    zygote = zygote_for(base_interpreter(environment.python_path))
    assert zygote.children_started == 1
