"""Verifying a new environment in a warm process (a "zygote") instead of a new interpreter.

Two thirds of `import requests` in a new interpreter is the standard library it pulls in (ssl,
http.client, email, logging, importlib.metadata…), and that is the base interpreter's, the same
for every environment made from it: a virtualenv's `bin/python` is a symlink to it. So per base
interpreter one long-lived helper imports those modules once (`ZYGOTE_PRELOAD`) and waits; to
verify an environment it forks a child that takes the environment's identity the way the
environment's own interpreter would (sys.executable, then `site.main()`: sys.prefix, the
environment's site-packages with its `.pth` files, sitecustomize; nothing of Atom's
virtualenv), and runs the one verify script, `PYTHON_VERIFY`, with its output on a pipe the
caller reads. The caller keeps the deadline and kills the child at it.

When the helper cannot start or dies, verification runs `python_verify` (a new interpreter),
as it does with `ATOM_VERIFY_WARM=false` (docs/installs.md, docs/decisions.md).
"""

import atexit
import json
import logging
import os
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from django.conf import settings

from skills.installer.backends.base import (
    PYTHON_VERIFY,
    VerificationError,
    first_error_line,
    python_verify,
    verify_wanted,
)
from skills.installer.keys import EnvironmentSpec
from skills.installer.process import LogWriter, child_environment, dying_with_parent
from skills.runtime.process import SPAWNER

logger = logging.getLogger(__name__)

# Standard-library modules the helper imports before its first fork: what `requests`, `httpx`,
# `pydantic`, `click`, `rich` and the like import at start. Only modules whose import has no
# effect a child could notice (no threads, no files, no sysconfig values cached with the base
# prefix); `random` reseeds itself in a forked child. A name missing on an interpreter is skipped.
ZYGOTE_PRELOAD = (
    "__future__ abc argparse array ast asyncio atexit base64 binascii bisect bz2 calendar codecs "
    "collections collections.abc concurrent.futures contextlib contextvars copy copyreg csv ctypes "
    "dataclasses datetime decimal dis email.charset email.feedparser email.header "
    "email.message email.parser email.utils encodings.idna enum fnmatch fractions functools "
    "gettext glob gzip hashlib heapq hmac http http.client http.cookiejar http.cookies "
    "importlib.metadata importlib.readers importlib.resources importlib.resources.readers "
    "importlib.util inspect io ipaddress itertools json "
    "keyword linecache locale logging lzma mimetypes numbers operator pathlib pickle platform "
    "pprint queue quopri random re selectors shlex shutil signal site socket ssl stat string "
    "stringprep struct subprocess tempfile textwrap threading tokenize traceback types typing "
    "unicodedata urllib.error urllib.parse urllib.request urllib.response uuid warnings weakref "
    "zipfile zlib"
).split()

# The helper's program (see its docstring), run by the environment's base interpreter.
HELPER_PROGRAM = Path(__file__).resolve().with_name("verifier_helper.py")

START_TIMEOUT = 30.0
ANSWER_TIMEOUT = 10.0


class ZygoteUnavailable(Exception):
    """The helper cannot start or stopped answering; verification uses a new interpreter."""


class Zygote:
    """One warm helper for one base interpreter, shared by this process's threads."""

    def __init__(self, interpreter: str) -> None:
        self.interpreter = interpreter
        self.owner = os.getpid()
        self.children_started = 0
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._channel = ours
        try:
            # From one long-lived thread: PR_SET_PDEATHSIG fires when the thread that started
            # the helper ends, and builds run in a batch's short-lived worker threads.
            command, preexec_fn = dying_with_parent(
                [
                    interpreter,
                    "-I",
                    "-S",
                    str(HELPER_PROGRAM),
                    str(theirs.fileno()),
                    PYTHON_VERIFY,
                    json.dumps(ZYGOTE_PRELOAD),
                ]
            )
            self.process = SPAWNER.run(
                subprocess.Popen,
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=child_environment(),
                cwd="/",
                preexec_fn=preexec_fn,
            )
        except OSError as error:
            ours.close()
            raise ZygoteUnavailable(f"{interpreter} did not start: {error}") from None
        finally:
            theirs.close()
        ready = self._answer(START_TIMEOUT)
        if "ready" not in ready:
            self.close()
            raise ZygoteUnavailable(f"the helper sent {ready!r} instead of its ready message")
        self.pid = self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def children_cpu_seconds(self) -> float:
        """CPU used by the helper's finished children, the verifications (benchmarks)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

    def fork(self, *, python: str, argument: str, out: int) -> int:
        """Start a verifying child writing to `out`; its pid."""
        request = json.dumps(
            {"python": python, "argument": argument, "environ": child_environment()}
        ).encode()
        with self._lock:
            try:
                socket.send_fds(self._channel, [request], [out])
                answer = self._answer(ANSWER_TIMEOUT)
            except OSError as error:
                raise ZygoteUnavailable(f"the helper stopped answering: {error}") from None
            self.children_started += 1
        return int(answer["pid"])

    def _answer(self, timeout: float) -> dict:
        self._channel.settimeout(timeout)
        try:
            message = self._channel.recv(1 << 16)
        except TimeoutError:
            self.close()
            raise ZygoteUnavailable(f"no answer from the helper in {timeout:g} s") from None
        if not message:
            self.close()
            code = self.process.poll()
            raise ZygoteUnavailable(f"the helper exited (status {code})")
        return json.loads(message)

    def close(self) -> None:
        """Stop the helper (its children are killed with it)."""
        self._channel.close()
        if os.getpid() == self.owner and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_zygotes: dict[str, Zygote] = {}
_unavailable: dict[str, str] = {}  # interpreter → why its helper could not start
_zygotes_lock = threading.Lock()
_inherited: list[Zygote] = []  # a forked child's copies of its parent's helpers, never used


def zygote_for(interpreter: str) -> Zygote:
    """The running helper for `interpreter`, started on first use (or again after it died)."""
    with _zygotes_lock:
        if interpreter in _unavailable:
            raise ZygoteUnavailable(_unavailable[interpreter])
        zygote = _zygotes.get(interpreter)
        if zygote is not None and zygote.is_alive():
            return zygote
        if zygote is not None:
            logger.warning(
                "verify: the warm verifier for %s exited (status %s); starting another",
                interpreter,
                zygote.process.returncode,
            )
            zygote.close()
        try:
            zygote = Zygote(interpreter)
        except ZygoteUnavailable as error:
            # Once: a helper that cannot start would cost its start on every build.
            _unavailable[interpreter] = str(error)
            logger.warning(
                "verify: no warm verifier for %s (%s); each environment is verified by a new "
                "interpreter",
                interpreter,
                error,
            )
            raise
        _zygotes[interpreter] = zygote
        return zygote


def zygotes_stop() -> None:
    """Stop every helper of this process (at exit, and in tests)."""
    with _zygotes_lock:
        for zygote in _zygotes.values():
            zygote.close()
        _zygotes.clear()
        _unavailable.clear()


def _forget_after_fork() -> None:
    """A forked child (a django-q2 worker) starts its own helpers; the parent's are not its own.

    Its copy of each channel is closed, so a helper still sees EOF when its parent dies."""
    global _zygotes_lock
    for zygote in _zygotes.values():
        zygote._channel.close()
        _inherited.append(zygote)  # kept: a collected Popen would try to reap the parent's child
    _zygotes.clear()
    _unavailable.clear()
    _zygotes_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(zygotes_stop)


def base_interpreter(python: Path) -> str | None:
    """The real interpreter behind an environment's `bin/python`, when the helper can stand in
    for it: a symlink out of a virtualenv (a copied binary would read its own pyvenv.cfg)."""
    if not python.is_symlink() or not (python.parent.parent / "pyvenv.cfg").is_file():
        return None
    real = os.path.realpath(python)
    return real if os.access(real, os.X_OK) else None


def _read_until_eof(fd: int, *, deadline: float) -> tuple[str, bool]:
    """What the child writes, until it closes the pipe or the deadline (True when it closed)."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks).decode(errors="replace"), False
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks).decode(errors="replace"), True
        chunks.append(chunk)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def zygote_verify(
    *, zygote: Zygote, spec: EnvironmentSpec, python: Path, log: LogWriter, timeout: float
) -> list[str]:
    """`python_verify` in a child of the helper: the same report, the same errors."""
    started = time.monotonic()
    read, write = os.pipe()
    try:
        try:
            pid = zygote.fork(
                python=str(python), argument=json.dumps(verify_wanted(spec)), out=write
            )
        finally:
            os.close(write)
        output, finished = _read_until_eof(read, deadline=started + timeout)
    finally:
        os.close(read)
    lines = output.rstrip("\n").splitlines()
    report = None
    if finished and lines:
        try:
            report = json.loads(lines[-1])
        except ValueError:
            report = None
    if not finished:
        _kill(pid)
        lines.append(f"killed after the {timeout:g} s install timeout")
    if not isinstance(report, dict) or "failures" not in report:
        output = "\n".join(lines)
        raise VerificationError(
            f"verification could not run: {first_error_line(output)}", output=output
        )
    output = "\n".join(lines[:-1])
    if report["failures"]:
        for failure in report["failures"]:
            log(f"verify: {failure}")
        raise VerificationError(
            "verification failed: " + "; ".join(report["failures"]), output=output
        )
    log("verify: imported " + (", ".join(report["checked"]) or "nothing (no requirements)"))
    return report["checked"]


def environment_verify(
    *, spec: EnvironmentSpec, python: Path, log: LogWriter, timeout: float
) -> list[str]:
    """Import every requirement's top-level modules in the new environment (`python_verify`),
    in a child of the warm helper for its interpreter when there is one.

    Returns the modules imported; raises `VerificationError`.
    """
    interpreter = base_interpreter(python) if settings.ATOM_VERIFY_WARM else None
    if interpreter is not None:
        try:
            zygote = zygote_for(interpreter)
            return zygote_verify(zygote=zygote, spec=spec, python=python, log=log, timeout=timeout)
        except ZygoteUnavailable as error:
            logger.info("verify: %s; verifying with a new interpreter", error)
    return python_verify(spec=spec, python=python, log=log, timeout=timeout)
