"""How a runner process is started: its command line, its scrubbed environment, its sandbox.

Two modes (docs/decisions.md, "Runner isolation"):

- ``bwrap``: the runner runs under bubblewrap in fresh user, PID, IPC, UTS, cgroup and network
  namespaces (network kept only for pools that allow it), as uid 1000 with no capabilities,
  seeing a read-only view of the system directories, the few files of /etc a program needs
  (`ETC_VISIBLE`), its interpreter and environment, and nothing else of the host; /tmp is a
  private, size-capped tmpfs.
- ``none``: a plain child process in its own session, with the same scrubbed environment,
  resource limits and private working directories, but the host's filesystem and network.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parent
PYTHON_RUNNER = RUNTIME_DIR / "runner.py"
NODE_RUNNER = RUNTIME_DIR / "runner.js"
SYSTEM_READ_ONLY = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of /etc a Python or Node program needs: TLS roots, the loader's cache, time zone, name
# service switch. Never shadow, sudoers, SSH keys: /etc is not mounted, only these are.
ETC_VISIBLE = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/hosts",
    "/etc/gai.conf",
    "/etc/mime.types",
    "/etc/alternatives",
)
ETC_NETWORK = ("/etc/resolv.conf",)
SANDBOX_UID = 1000
SANDBOX_PASSWD = f"skill:x:{SANDBOX_UID}:{SANDBOX_UID}:skill:/tmp:/usr/sbin/nologin\n"
SANDBOX_GROUP = f"skill:x:{SANDBOX_UID}:\n"
SANDBOX_TMP_BYTES = 256 * 1024 * 1024
# Where Atom runs as root, bwrap runs as this host user (nobody), so that the sandbox's uid is
# an unprivileged user outside too, not root: when everything the runner must see is readable
# by other users (`sandbox_host_uid`).
SANDBOX_HOST_UID = 65534
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"

# Only these host variables reach a runner, and only if they pass the secret check too.
INHERITED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
SECRET_LOOKING = re.compile(
    r"SECRET|PASSW|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE|COOKIE|SESSION|DATABASE|REDIS|DSN|_URL$",
    re.IGNORECASE,
)


class SandboxUnavailable(RuntimeError):
    pass


@functools.cache
def bwrap_executable() -> str | None:
    """The bwrap binary if it is installed *and* can create namespaces here, else None.

    Probed once per process: a bwrap that is installed but refused user namespaces (some
    container hosts) must not be chosen by ``auto``.
    """
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"]
    try:
        completed = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if completed.returncode == 0 else None


def sandbox_mode(requested: str) -> str:
    """Resolve ``auto`` to what this host offers; refuse ``bwrap`` where it cannot run."""
    if requested == "none":
        return "none"
    available = bwrap_executable() is not None
    if requested == "bwrap" and not available:
        raise SandboxUnavailable(
            "ATOM_SANDBOX=bwrap but bubblewrap is not installed or cannot create namespaces "
            "here (apt-get install bubblewrap)"
        )
    return "bwrap" if available else "none"


def is_secret_looking(name: str) -> bool:
    return bool(SECRET_LOOKING.search(name))


def runner_environment(
    *,
    home: str,
    interpreter: Path,
    extra: Mapping[str, str] | None = None,
    host_environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """An allow-list environment: nothing from the host but locale and time zone.

    ``extra`` may add variables (NODE_PATH, say) but never one that looks like a secret.
    """
    source = os.environ if host_environ is None else host_environ
    env = {
        name: source[name]
        for name in INHERITED_VARIABLES
        if name in source and not is_secret_looking(name)
    }
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        PATH=f"{Path(interpreter).parent}:{SAFE_PATH}",
        HOME=home,
        TMPDIR=home,
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        NO_COLOR="1",  # a skill's output is data, never a terminal's
    )
    for name, value in (extra or {}).items():
        if is_secret_looking(name):
            raise ValueError(f"refusing to pass {name} to a runner: it looks like a secret")
        env[name] = value
    return env


def interpreter_paths(interpreter: Path) -> list[Path]:
    """Directories a sandboxed interpreter needs to see: its environment and its base install."""
    paths = []
    unresolved = Path(os.path.abspath(interpreter))
    environment_root = unresolved.parent.parent
    if (environment_root / "pyvenv.cfg").exists() or (environment_root / "node_modules").exists():
        paths.append(environment_root)
    real = Path(os.path.realpath(unresolved))
    paths.append(real.parent.parent)
    config = environment_root / "pyvenv.cfg"
    if config.exists():
        for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                paths.append(Path(os.path.realpath(value.strip())).parent)
    return paths


def sandbox_host_uid(
    *, interpreter: Path, read_only: Iterable[Path] = ()
) -> tuple[int | None, str]:
    """The host uid a runner's bwrap runs as, or None for Atom's own, and the reason.

    Root drops to `SANDBOX_HOST_UID` when that user can reach every path the sandbox shows
    (other users' read and search bits on each, and search on their parents) and may make a
    user namespace; otherwise the sandbox's uid maps to root outside, and the reason says what
    stood in the way (an interpreter under `/root`, say).
    """
    if os.geteuid() != 0:
        return None, f"uid {os.geteuid()} outside (Atom's own)"
    paths = [RUNTIME_DIR, *interpreter_paths(interpreter), *read_only, identity_directory()]
    for path in paths:
        blocked = _unreachable_by_others(Path(path))
        if blocked is not None:
            return None, f"root outside: {blocked} is not readable by other users"
    if not _namespaces_allowed_to(SANDBOX_HOST_UID):
        return None, f"root outside: uid {SANDBOX_HOST_UID} may not make a user namespace here"
    return SANDBOX_HOST_UID, f"uid {SANDBOX_HOST_UID} outside"


def _unreachable_by_others(path: Path) -> Path | None:
    """The first part of `path` other users cannot pass through or read, or None."""
    path = Path(os.path.abspath(path))
    for part in [*reversed(path.parents), path]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return part
        needed = stat.S_IXOTH if part != path or stat.S_ISDIR(mode) else 0
        if part == path:
            needed |= stat.S_IROTH
        if mode & needed != needed:
            return part
    return None


@functools.cache
def _namespaces_allowed_to(uid: int) -> bool:
    """Whether bwrap, run as `uid`, can make its namespaces here (probed once)."""
    executable = bwrap_executable()
    if executable is None:
        return False
    probe = [executable, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"]
    try:
        completed = subprocess.run(
            probe, capture_output=True, timeout=10, check=False, user=uid, group=uid,
            extra_groups=[],
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return completed.returncode == 0


def bwrap_arguments(
    *,
    network: bool,
    read_only: Iterable[Path],
    tmp_bytes: int = SANDBOX_TMP_BYTES,
    seccomp_fd: int | None = None,
) -> list[str]:
    executable = bwrap_executable()
    if executable is None:
        raise SandboxUnavailable("bubblewrap is not available on this host")
    # A user namespace even when Atom runs as root (--unshare-all only tries one then), so the
    # skill is uid 1000 with no capabilities rather than root; and none of its own, in which it
    # would hold every capability again (to mount, to reach more of the kernel).
    arguments = [executable, "--die-with-parent", "--unshare-all", "--unshare-user"]
    arguments.append("--disable-userns")
    arguments += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    if network:
        arguments.append("--share-net")
    arguments += ["--hostname", "atom-runner"]
    # The private /tmp first: a bind below /tmp (a test's environment) must land on top of it.
    arguments += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    etc = [*ETC_VISIBLE, *(ETC_NETWORK if network else ())]
    for path in _outermost(
        [Path(path) for path in (*SYSTEM_READ_ONLY, *etc) if os.path.exists(path)] + list(read_only)
    ):
        arguments += ["--ro-bind", str(path), str(path)]
    identity = identity_directory()
    arguments += ["--ro-bind", str(identity / "passwd"), "/etc/passwd"]
    arguments += ["--ro-bind", str(identity / "group"), "/etc/group"]
    arguments += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    if seccomp_fd is not None:  # skills/runtime/seccomp.py
        arguments += ["--seccomp", str(seccomp_fd)]
    return arguments


@functools.cache
def identity_directory() -> Path:
    """A minimal passwd and group naming the sandbox's one user, made once per process."""
    directory = Path(tempfile.mkdtemp(prefix="atom-sandbox-identity-"))
    os.chmod(directory, 0o755)
    for name, text in (("passwd", SANDBOX_PASSWD), ("group", SANDBOX_GROUP)):
        (directory / name).write_text(text, encoding="utf-8")
        os.chmod(directory / name, 0o644)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _outermost(paths: list[Path]) -> list[Path]:
    """Existing paths with duplicates and paths inside another listed path removed."""
    kept: list[Path] = []
    for path in sorted({Path(os.path.abspath(path)) for path in paths if path.exists()}):
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


def runner_command(
    *,
    kind: str,
    interpreter: Path,
    mode: str,
    network: bool,
    in_fd: int,
    out_fd: int,
    cache_size: int,
    memory_mb: int,
    read_only: Iterable[Path] = (),
    preimport: Iterable[str] = (),
    seccomp_fd: int | None = None,
) -> list[str]:
    """The full command line of one runner, sandbox included (with the seccomp filter bwrap
    reads from `seccomp_fd`, passed to it, when given)."""
    if kind == "python":
        command = [str(interpreter), "-I", str(PYTHON_RUNNER)]
    elif kind == "node":
        # V8 reserves far more address space than it uses, so RLIMIT_AS cannot bound a Node
        # runner; its heap limit does.
        command = [str(interpreter), f"--max-old-space-size={memory_mb}", str(NODE_RUNNER)]
    else:
        raise ValueError(f"unknown runner kind {kind!r}")
    command += ["--in", str(in_fd), "--out", str(out_fd), "--cache-size", str(cache_size)]
    packages = ",".join(preimport)
    if packages and kind == "python":
        command += ["--preimport", packages]
    if mode == "none":
        return command
    command.append("--sandboxed")  # its own PID namespace and /tmp: it sweeps both per call
    visible = [RUNTIME_DIR, *interpreter_paths(interpreter), *read_only]
    sandbox = bwrap_arguments(network=network, read_only=visible, seccomp_fd=seccomp_fd)
    return [*sandbox, "--", *command]
