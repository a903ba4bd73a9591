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
import ctypes
import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
# Where Atom runs as root, bwrap runs as this host user (nobody; `ATOM_SANDBOX_HOST_UID`), so
# that the sandbox's uid is an unprivileged user outside too, not root (`sandbox_host_identity`).
SANDBOX_HOST_UID = 65534
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000  # mount(2)'s flags, from <sys/mount.h>

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


@dataclass(frozen=True)
class HostIdentity:
    """Who a runner's bwrap is on the host, and how it reaches what it must show.

    `uid` is None where it stays Atom's own; `shown_privately` lists the paths only root can
    reach (an interpreter under `/root`, a data dir of mode 0700): each is bound, in the
    runner's own mount namespace and before it drops to `uid`, on a slot other users can
    reach (`privately_shown_slot`), from which bwrap shows it at its own path.
    """

    uid: int | None
    reason: str
    shown_privately: tuple[Path, ...] = ()


def sandbox_host_identity(
    *, interpreter: Path, read_only: Iterable[Path] = (), uid: int = SANDBOX_HOST_UID
) -> HostIdentity:
    """Root drops to `uid` (`ATOM_SANDBOX_HOST_UID`) when that user may make a user namespace,
    a private mount namespace can be made, and every path the sandbox shows is itself readable
    by other users (its parents need not be: such a path is shown privately); otherwise the
    sandbox's uid maps to root outside, and the reason says what stood in the way."""
    if os.geteuid() != 0:
        return HostIdentity(None, f"uid {os.geteuid()} outside (Atom's own)")
    paths = _outermost(
        [
            *(Path(path) for path in (*SYSTEM_READ_ONLY, *ETC_VISIBLE)),
            RUNTIME_DIR,
            *interpreter_paths(interpreter),
            *read_only,
            identity_directory(),
        ]
    )
    for path in paths:
        if not _readable_by_others(path):
            return HostIdentity(None, f"root outside: {path} is not readable by other users")
    if not _drop_works(uid):
        return HostIdentity(
            None,
            f"root outside: uid {uid} cannot start the sandbox here (a user namespace or a "
            "private mount refused)",
        )
    private = tuple(path for path in paths if not _parents_passable_by_others(path))
    return HostIdentity(uid, f"uid {uid} outside", private)


def _readable_by_others(path: Path) -> bool:
    """Whether other users may read `path` itself (and list it, for a directory)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    needed = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
    return mode & needed == needed


def _parents_passable_by_others(path: Path) -> bool:
    """Whether other users may pass through every directory above `path`."""
    for parent in Path(os.path.abspath(path)).parents:
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


@functools.cache
def _privately_shown_root() -> Path:
    """The directory of this process's slots: empty on the host, for good."""
    directory = Path(tempfile.mkdtemp(prefix="atom-sandbox-shown-"))
    os.chmod(directory, 0o755)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


_slots: dict[Path, Path] = {}
_slots_lock = threading.Lock()


def privately_shown_slot(path: Path) -> Path:
    """An empty directory (or file, for a file) that other users can reach, on which a runner's
    own mount namespace binds `path`: the host never sees anything on it. One per path and
    process, the same for every thread (the bind and bwrap's options must name one slot)."""
    with _slots_lock:
        slot = _slots.get(path)
        if slot is None:
            slot = _slots[path] = _slot_made(is_directory=path.is_dir())
        return slot


def _slot_made(*, is_directory: bool) -> Path:
    root = _privately_shown_root()
    if is_directory:
        slot = Path(tempfile.mkdtemp(dir=root))
        os.chmod(slot, 0o755)
    else:
        descriptor, name = tempfile.mkstemp(dir=root)
        os.close(descriptor)
        slot = Path(name)
        os.chmod(slot, 0o644)
    return slot


def privately_shown_binder(paths: Iterable[Path]) -> Callable[[], None]:
    """What a runner's process runs as root between fork and exec: a mount namespace of its
    own, private to it, with each path bound on its slot (made now, in the parent)."""
    pairs = [(os.fsencode(path), os.fsencode(privately_shown_slot(path))) for path in paths]
    mount = _libc_mount()

    def bind() -> None:
        os.unshare(os.CLONE_NEWNS)
        _mount_checked(mount, b"none", b"/", MS_REC | MS_PRIVATE)
        for source, slot in pairs:
            _mount_checked(mount, source, slot, MS_BIND | MS_REC)

    return bind


def host_user_become(uid: int) -> None:
    """Between fork and exec, as root: become `uid`, its group alone, no other groups."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


@functools.cache
def _libc_mount() -> Callable[..., int]:
    return ctypes.CDLL(None, use_errno=True).mount


def _mount_checked(mount: Callable[..., int], source: bytes, target: bytes, flags: int) -> None:
    if mount(source, target, None, flags, None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), os.fsdecode(target))


@functools.cache
def _drop_works(uid: int) -> bool:
    """Whether a process that binds a path privately and drops to `uid` can then start bwrap
    and read that path through it (probed once per uid, on a directory only root can reach)."""
    executable = bwrap_executable()
    if executable is None:
        return False
    hidden = Path(tempfile.mkdtemp(prefix="atom-sandbox-probe-"))
    try:
        shown = hidden / "shown"
        shown.mkdir(mode=0o755)
        (shown / "seen").write_text("seen", encoding="utf-8")
        os.chmod(shown / "seen", 0o644)
        arguments = bwrap_arguments(network=False, read_only=[shown], shown_privately=[shown])
        probe = [*arguments, "--", "cat", str(shown / "seen")]
        binder = privately_shown_binder([shown])

        def setup() -> None:
            binder()
            host_user_become(uid)

        completed = subprocess.run(
            probe, capture_output=True, timeout=10, check=False, preexec_fn=setup
        )
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(hidden, ignore_errors=True)
    return completed.returncode == 0 and completed.stdout == b"seen"


def bwrap_arguments(
    *,
    network: bool,
    read_only: Iterable[Path],
    tmp_bytes: int = SANDBOX_TMP_BYTES,
    seccomp_fd: int | None = None,
    shown_privately: Iterable[Path] = (),
) -> list[str]:
    """bwrap's options; each path of `shown_privately` is taken from its slot (`HostIdentity`)."""
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
    private = {Path(os.path.abspath(path)) for path in shown_privately}
    for path in _outermost(
        [Path(path) for path in (*SYSTEM_READ_ONLY, *etc) if os.path.exists(path)] + list(read_only)
    ):
        source = privately_shown_slot(path) if path in private else path
        arguments += ["--ro-bind", str(source), str(path)]
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
    shown_privately: Iterable[Path] = (),
) -> list[str]:
    """The full command line of one runner, sandbox included (with the seccomp filter bwrap
    reads from `seccomp_fd`, passed to it, when given, and the paths `HostIdentity` shows
    privately taken from their slots)."""
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
    sandbox = bwrap_arguments(
        network=network, read_only=visible, seccomp_fd=seccomp_fd, shown_privately=shown_privately
    )
    return [*sandbox, "--", *command]
