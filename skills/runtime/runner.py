"""Atom's Python skill runner: a long-lived process that loads skills and runs their calls.

It runs with a skill environment's own interpreter, which has no Django and none of Atom's
packages, so this file uses the standard library only and never imports from Atom.

Protocol: frames of a 4-byte big-endian length followed by UTF-8 JSON, read from the file
descriptor given by ``--in`` and written to the one given by ``--out``. File descriptors 1 and
2 are the skill's stdout and stderr; the host captures them separately, so nothing a skill
prints can corrupt a frame. File descriptor 0 is /dev/null, so a skill reading stdin cannot
steal the host's requests.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import json
import linecache
import os
import re
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import types
from collections import OrderedDict

HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 256 * 1024 * 1024
MAX_TRACEBACK_CHARS = 32_768
MEGABYTE = 1024 * 1024
CACHE_HIT, CACHE_LOADED, CACHE_RELOADED = "hit", "loaded", "reloaded"
# Standard modules most skills import, imported by every runner before its first call: a new
# skill version's first call then pays for its own code only (about 2.4 MB more per runner).
COMMON_MODULES = (
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "itertools",
    "math",
    "pathlib",
    "re",
    "typing",
)


class CpuTimeLimitExceeded(BaseException):
    """Raised from SIGXCPU; a BaseException so a skill's ``except Exception`` cannot eat it."""


class WallClockExceeded(BaseException):
    """Raised from SIGALRM in one-shot mode (containers), where no host watches the clock."""


class SourceUnavailable(Exception):
    """The skill file cannot be read from inside this runner (e.g. hidden by the sandbox)."""


class LoadedSkill:
    __slots__ = ("content_hash", "module", "module_name", "path", "skill_id")

    def __init__(
        self, skill_id: str, content_hash: str, module: types.ModuleType, path: str
    ) -> None:
        self.skill_id = skill_id
        self.content_hash = content_hash
        self.module = module
        self.module_name = module.__name__
        self.path = path


def module_name_for(skill_id: str, content_hash: str) -> str:
    """A name unique per skill version, so two versions never share a ``sys.modules`` slot."""
    safe = re.sub(r"\W", "_", skill_id)
    return f"atom_skill_{safe}_{content_hash[:16]}"


class SkillLoader:
    """An LRU of loaded skill modules keyed by (skill id, content hash).

    One version of a skill is loaded at a time: asking for another hash of a loaded skill
    replaces it (a hot reload). Modules are compiled from the source text, never from a cached
    ``.pyc``, because a same-second edit can leave bytecode whose timestamp still matches.
    """

    def __init__(self, capacity: int = 256) -> None:
        if capacity < 1:
            raise ValueError("the loader cache needs a capacity of at least 1")
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, str], LoadedSkill] = OrderedDict()
        self._current: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def keys(self) -> list[tuple[str, str]]:
        """Loaded (skill id, content hash) pairs, least recently used first."""
        return list(self._cache)

    def get_skill(self, skill_id: str, content_hash: str) -> LoadedSkill | None:
        key = (skill_id, content_hash)
        loaded = self._cache.get(key)
        if loaded is not None:
            self._cache.move_to_end(key)
        return loaded

    def load_skill(
        self,
        skill_id: str,
        path: str,
        content_hash: str | None = None,
        source: str | None = None,
        exact: bool = False,
    ) -> tuple[LoadedSkill, str]:
        """Return the skill and how it was obtained: ``hit``, ``loaded`` or ``reloaded``.

        With a content hash that is cached, the file is not read at all. Otherwise the file
        (or the given source) is read and hashed, and the cache is keyed by what was really
        read: if the file has moved on from the hash the caller asked for, the newer code runs
        and the answer carries its hash -- unless ``exact``, where a file holding another
        version raises SourceUnavailable so that the host sends the exact source.
        """
        if content_hash:
            loaded = self.get_skill(skill_id, content_hash)
            if loaded is not None:
                return loaded, CACHE_HIT
        data = self._read(path) if source is None else source.encode("utf-8")
        actual_hash = hashlib.sha256(data).hexdigest()
        if exact and content_hash and actual_hash != content_hash:
            if source is not None:
                raise ValueError(f"the source sent for {skill_id} does not have its content hash")
            raise SourceUnavailable(f"{path} holds another version than {content_hash}")
        loaded = self.get_skill(skill_id, actual_hash)
        if loaded is not None:
            return loaded, CACHE_HIT
        previous = self._current.get(skill_id)
        if previous is not None:
            self._drop((skill_id, previous))
        loaded = self._execute(skill_id, actual_hash, path, data)
        self._cache[(skill_id, actual_hash)] = loaded
        self._current[skill_id] = actual_hash
        while len(self._cache) > self.capacity:
            self._drop(next(iter(self._cache)))
        return loaded, CACHE_RELOADED if previous is not None else CACHE_LOADED

    def reload_skill(
        self, skill_id: str, path: str, source: str | None = None
    ) -> tuple[LoadedSkill, str]:
        """Load the skill again from its file even if the same content is cached."""
        was_loaded = self.unload_skill(skill_id)
        loaded, status = self.load_skill(skill_id, path, source=source)
        return loaded, CACHE_RELOADED if was_loaded else status

    def unload_skill(self, skill_id: str) -> bool:
        content_hash = self._current.get(skill_id)
        if content_hash is None:
            return False
        self._drop((skill_id, content_hash))
        return True

    def clear_cache(self) -> int:
        count = len(self._cache)
        for key in list(self._cache):
            self._drop(key)
        return count

    def _read(self, path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise SourceUnavailable(f"{path}: {error.strerror or error}") from None

    def _execute(self, skill_id: str, content_hash: str, path: str, data: bytes) -> LoadedSkill:
        name = module_name_for(skill_id, content_hash)
        text = data.decode("utf-8")
        code = compile(text, path, "exec", dont_inherit=True)
        module = types.ModuleType(name)
        module.__file__ = path
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin=path)
        # Registered before it runs: dataclasses, typing and pickle look the module up by name.
        sys.modules[name] = module
        # Tracebacks show this version's lines even after the file is edited again.
        linecache.cache[path] = (len(text), None, text.splitlines(True), path)
        try:
            exec(code, module.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return LoadedSkill(skill_id, content_hash, module, path)

    def _drop(self, key: tuple[str, str]) -> None:
        loaded = self._cache.pop(key, None)
        if loaded is None:
            return
        sys.modules.pop(loaded.module_name, None)
        if self._current.get(key[0]) == key[1]:
            del self._current[key[0]]


# Framing ---------------------------------------------------------------------------------------


def read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict | None:
    header = read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_REQUEST_BYTES:
        raise ValueError(f"request frame of {size} bytes is larger than the limit")
    body = read_exactly(fd, size)
    if body is None:
        return None
    return json.loads(body)


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(HEADER.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# Limits ----------------------------------------------------------------------------------------


class Limits:
    """Per-call resource limits, applied to this process and lifted after the call."""

    def __init__(self, spec: dict) -> None:
        self.memory_mb = spec.get("memory_mb")
        self.cpu_seconds = spec.get("cpu_seconds")
        self.max_result_bytes = int(spec.get("max_result_bytes") or 16 * MEGABYTE)
        self.alarm_seconds = spec.get("alarm_seconds")
        self._as_hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        self._cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]

    def apply(self) -> None:
        if self.alarm_seconds:
            signal.setitimer(signal.ITIMER_REAL, float(self.alarm_seconds))
        if self.memory_mb:
            resource.setrlimit(
                resource.RLIMIT_AS,
                (self._bounded(self.memory_mb * MEGABYTE, self._as_hard), self._as_hard),
            )
        if self.cpu_seconds:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            used = usage.ru_utime + usage.ru_stime
            # RLIMIT_CPU counts the process's whole life, so the call's budget starts from now.
            soft = int(used + float(self.cpu_seconds)) + 1
            resource.setrlimit(
                resource.RLIMIT_CPU, (self._bounded(soft, self._cpu_hard), self._cpu_hard)
            )

    def lift(self) -> None:
        if self.alarm_seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if self.memory_mb:
            resource.setrlimit(resource.RLIMIT_AS, (self._as_hard, self._as_hard))
        if self.cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (self._cpu_hard, self._cpu_hard))

    @staticmethod
    def _bounded(value: int, hard: int) -> int:
        return value if hard == resource.RLIM_INFINITY else min(value, hard)


def on_cpu_limit(signum: int, frame: types.FrameType | None) -> None:
    raise CpuTimeLimitExceeded()


def on_alarm(signum: int, frame: types.FrameType | None) -> None:
    raise WallClockExceeded()


# Calls -----------------------------------------------------------------------------------------


def error_info(error_type: str, message: str, trace: str = "") -> dict:
    return {"type": error_type, "message": message, "traceback": trace[-MAX_TRACEBACK_CHARS:]}


def exception_info(exc: BaseException, skip_frames: int = 1) -> dict:
    """Describe an exception raised by skill code, leaving the runner's own frames out."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ in ("builtins", "__main__") else kind.__name__
    trace = "".join(traceback.format_exception(kind, exc, tb))
    return error_info(name, str(exc), trace)


class Runner:
    """Serves one skill version: the first it loads is the only one it will ever run.

    ``sandboxed`` means it has a PID namespace and a /tmp of its own (bubblewrap): after every
    call it kills every other process in the namespace and empties /tmp but for its own
    directory, so nothing a call started or wrote outlives it.
    """

    def __init__(self, loader: SkillLoader, base_dir: str, *, sandboxed: bool = False) -> None:
        self.loader = loader
        self.base_dir = base_dir
        self.sandboxed = sandboxed
        self.calls = 0
        self.pid = os.getpid()
        self.bound: tuple[str, str | None] | None = None
        # What /tmp held before any call: this runner's directory, and the directories
        # bubblewrap made for what it binds below /tmp (read-only: never to be walked).
        self.tmp_at_start = tmp_entries() if sandboxed else frozenset()
        self._stdout = sys.stdout
        self._stderr = sys.stderr

    def refuse_other_version(self, request: dict) -> bytes | None:
        """The answer refusing a request for another skill version than this runner's."""
        wanted = (request.get("skill_id"), request.get("content_hash"))
        if self.bound is None or wanted == self.bound or wanted[1] is None:
            if self.bound is None and wanted[1] is not None:
                self.bound = wanted
            return None
        return encode(
            {
                "ok": False,
                "retire": True,
                "error": error_info(
                    "RunnerBound",
                    f"this runner serves {self.bound[0]} {str(self.bound[1])[:12]} only",
                ),
            }
        )

    def handle(self, request: dict) -> tuple[bytes, bool]:
        """Answer one request; the flag asks the host to retire this runner afterwards."""
        operation = request.get("op")
        if operation == "call":
            return self.call(request)
        if operation == "load":
            return self.load(request), False
        if operation == "unload":
            return encode(
                {"ok": True, "unloaded": self.loader.unload_skill(request["skill_id"])}
            ), False
        if operation == "clear":
            return encode({"ok": True, "cleared": self.loader.clear_cache()}), False
        if operation == "stats":
            return encode(self.stats()), False
        if operation == "ping":
            return encode({"ok": True}), False
        return encode(
            {"ok": False, "error": error_info("ProtocolError", f"unknown op {operation!r}")}
        ), False

    def stats(self) -> dict:
        return {
            "ok": True,
            "pid": os.getpid(),
            "calls": self.calls,
            "loaded": [list(key) for key in self.loader.keys()],
            "capacity": self.loader.capacity,
            "peak_rss_kb": peak_rss_kb(),
        }

    def load(self, request: dict) -> bytes:
        refused = self.refuse_other_version(request)
        if refused is not None:
            return refused
        try:
            loaded, status = self.loader.load_skill(
                request["skill_id"],
                request["path"],
                request.get("content_hash"),
                request.get("source"),
                bool(request.get("exact")),
            )
        except SourceUnavailable:
            return encode({"ok": False, "need_source": True})
        except BaseException as exc:  # noqa: BLE001 - a preload failure is reported, not fatal
            return encode({"ok": False, "error": exception_info(exc, skip_frames=0)})
        return encode({"ok": True, "cache": status, "content_hash": loaded.content_hash})

    def call(self, request: dict) -> tuple[bytes, bool]:
        refused = self.refuse_other_version(request)
        if refused is not None:
            return refused, True
        limits = Limits(request.get("limits") or {})
        answer: dict = {
            "ok": False,
            "cache": None,
            "content_hash": None,
            "load_seconds": 0.0,
            "duration_seconds": 0.0,
        }
        retire = False
        result_json = None
        work_dir = tempfile.mkdtemp(prefix="call-", dir=self.base_dir)
        os.chdir(work_dir)
        scratch_enter(work_dir)
        limits.apply()
        try:
            result_json = self._run(request, answer, limits)
        except SourceUnavailable:
            limits.lift()
            return encode({"ok": False, "need_source": True}), False
        except MemoryError:
            limits.lift()
            answer["error"] = error_info(
                "MemoryError",
                f"the call exceeded its memory limit of {limits.memory_mb} MB (RLIMIT_AS)",
            )
            retire = True
        except CpuTimeLimitExceeded:
            limits.lift()
            answer["error"] = error_info(
                "CpuTimeLimitExceeded",
                f"the call exceeded its CPU time limit of {limits.cpu_seconds} s (RLIMIT_CPU)",
            )
            retire = True
        except WallClockExceeded:
            limits.lift()
            answer["error"] = error_info(
                "TimeoutError",
                f"the call exceeded its wall-clock limit of {limits.alarm_seconds:g} s",
            )
            retire = True
        finally:
            limits.lift()
            if os.getpid() != self.pid:
                os._exit(0)  # a process the skill forked returned here: it never answers
            self._restore_streams()
            os.chdir(self.base_dir)
            scratch_leave(self.base_dir)
            shutil.rmtree(work_dir, ignore_errors=True)
            if self.sandboxed:
                processes_sweep()
                tmp_sweep(keep=self.tmp_at_start)
        self.calls += 1
        answer["peak_rss_kb"] = peak_rss_kb()
        if retire:
            answer["retire"] = True
        payload = encode(answer)
        if result_json is not None:
            payload = payload[:-1] + b',"result":' + result_json + b"}"
        return payload, retire

    def _run(self, request: dict, answer: dict, limits: Limits) -> bytes | None:
        """Load and call; fill ``answer`` and return the encoded result on success."""
        started = time.perf_counter()
        try:
            loaded, status = self.loader.load_skill(
                request["skill_id"],
                request["path"],
                request.get("content_hash"),
                request.get("source"),
                bool(request.get("exact")),
            )
        except (SourceUnavailable, MemoryError, CpuTimeLimitExceeded, WallClockExceeded):
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure of skill code is the answer
            answer["error"] = exception_info(exc, skip_frames=3)
            answer["error"]["stage"] = "load"
            return None
        answer["cache"] = status
        answer["content_hash"] = loaded.content_hash
        answer["load_seconds"] = time.perf_counter() - started
        entrypoint = request.get("entrypoint") or "run"
        function = getattr(loaded.module, entrypoint, None)
        if not callable(function):
            answer["error"] = error_info(
                "EntrypointNotFound", f"{loaded.path} defines no function {entrypoint!r}"
            )
            return None
        params = request.get("params") or {}
        if not isinstance(params, dict):
            answer["error"] = error_info("InvalidParams", "params must be a JSON object")
            return None
        started = time.perf_counter()
        try:
            result = function(**params)
            if hasattr(result, "__await__"):
                import asyncio

                result = asyncio.run(_awaited(result))
        except (MemoryError, CpuTimeLimitExceeded, WallClockExceeded):
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a skill is an error too
            answer["duration_seconds"] = time.perf_counter() - started
            answer["error"] = exception_info(exc)
            return None
        answer["duration_seconds"] = time.perf_counter() - started
        try:
            result_json = json.dumps(result, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            answer["error"] = error_info(
                "ResultNotSerializable",
                f"the skill returned a value JSON cannot encode: {type(exc).__name__}: {exc}",
            )
            return None
        if len(result_json) > limits.max_result_bytes:
            answer["error"] = error_info(
                "ResultTooLarge",
                f"the result is {len(result_json)} bytes of JSON, over the limit of "
                f"{limits.max_result_bytes}",
            )
            return None
        answer["ok"] = True
        return result_json

    def _restore_streams(self) -> None:
        """Flush what the skill printed (so the host has it before the answer) and undo any
        replacement of sys.stdout / sys.stderr by the skill."""
        for stream in (sys.stdout, sys.stderr, self._stdout, self._stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a skill may have closed its stream
                pass
        sys.stdout, sys.stderr = self._stdout, self._stderr


async def _awaited(awaitable: object) -> object:
    return await awaitable  # type: ignore[misc]


def scratch_enter(work_dir: str) -> None:
    """Point the call's temporary files (tempfile, $TMPDIR, $HOME) at its own directory."""
    tempfile.tempdir = work_dir
    os.environ["TMPDIR"] = os.environ["HOME"] = work_dir


def scratch_leave(base_dir: str) -> None:
    tempfile.tempdir = base_dir
    os.environ["TMPDIR"] = os.environ["HOME"] = base_dir


def processes_sweep(patience: float = 2.0) -> None:
    """Kill every process of this PID namespace but this one and its init (kill(-1) spares
    both), again until none is left: a fork bomb may fork while the first signal goes out."""
    if not namespace_has_others():
        return  # the usual case, and kill(-1) walks every task of the host
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        children_reap()
        time.sleep(0.001)  # the namespace's init reaps the orphans


def namespace_has_others() -> bool:
    """Whether this PID namespace holds a process besides its init and this runner."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return True
    own = str(os.getpid())
    return any(name.isdigit() and name not in ("1", own) for name in names)


def children_reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def tmp_entries() -> frozenset[str]:
    try:
        return frozenset(entry.path for entry in os.scandir("/tmp"))
    except OSError:
        return frozenset()


def tmp_sweep(*, keep: frozenset[str]) -> None:
    """Remove from the sandbox's own /tmp what was not there before the first call."""
    try:
        entries = list(os.scandir("/tmp"))
    except OSError:
        return
    for entry in entries:
        if entry.path in keep:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def encode(answer: dict) -> bytes:
    return json.dumps(answer, separators=(",", ":")).encode("utf-8")


def peak_rss_kb() -> int:
    """This process's peak resident set in KiB.

    VmHWM, because ``ru_maxrss`` survives ``exec``: a runner forked from a large web process
    would report the parent's peak.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def packages_preimport(distributions: list[str]) -> None:
    """Import the top-level modules of the environment's distributions, so that a skill's
    first call finds them loaded. A module that fails to import is left to the skill, whose
    own import then reports the error."""
    from importlib import import_module

    for module in COMMON_MODULES:
        import_module(module)
    if not distributions:
        return
    from importlib import metadata

    for name in distributions:
        try:
            distribution = metadata.distribution(name)
        except (metadata.PackageNotFoundError, ValueError):
            continue
        top_level = (distribution.read_text("top_level.txt") or "").split()
        if not top_level:
            top_level = sorted(
                {
                    str(file).split("/")[0].removesuffix(".py")
                    for file in distribution.files or ()
                    if str(file).endswith(".py") and ".dist-info" not in str(file)
                }
            )
        for module in top_level:
            if module.startswith("_") or not module.isidentifier():
                continue
            try:
                import_module(module)
            except BaseException:  # noqa: BLE001, S112 - the skill's own import will say why
                continue


def warm_up(base_dir: str) -> None:
    """Take once, before the first call, the first-use costs of the paths every call takes
    (a scratch directory, compiling a module, encoding an answer): a standby runner's first
    call is then as quick as its later ones."""
    scratch = tempfile.mkdtemp(prefix="warm-", dir=base_dir)
    shutil.rmtree(scratch, ignore_errors=True)
    namespace: dict = {}
    exec(compile("def run():\n    return {'ok': [1]}\n", "<warm-up>", "exec"), namespace)
    encode({"ok": True, "result": namespace["run"](), "peak_rss_kb": peak_rss_kb()})
    hashlib.sha256(b"").hexdigest()


def serve(in_fd: int, out_fd: int, runner: Runner) -> None:
    warm_up(runner.base_dir)
    write_frame(
        out_fd, encode({"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
    )
    while True:
        request = read_frame(in_fd)
        if request is None:
            return
        payload, retire = runner.handle(request)
        write_frame(out_fd, payload)
        if retire:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Atom skill runner (speaks to its host only)")
    parser.add_argument("--in", dest="in_fd", type=int)
    parser.add_argument("--out", dest="out_fd", type=int)
    parser.add_argument("--cache-size", type=int, default=256)
    parser.add_argument("--sandboxed", action="store_true", help="own PID namespace and /tmp")
    parser.add_argument("--preimport", default="", help="distributions to import before a call")
    parser.add_argument(
        "--once",
        nargs=2,
        metavar=("REQUEST", "ANSWER"),
        help="answer one request read from a JSON file into another file (containers)",
    )
    options = parser.parse_args(argv)
    if options.once is None and (options.in_fd is None or options.out_fd is None):
        parser.error("give --in and --out, or --once REQUEST ANSWER")
    once = [os.path.abspath(path) for path in options.once or ()]  # before the chdir below
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGXCPU, on_cpu_limit)
    signal.signal(signal.SIGALRM, on_alarm)
    base_dir = tempfile.mkdtemp(prefix="atom-runner-")
    os.chdir(base_dir)
    packages_preimport([name for name in options.preimport.split(",") if name])
    runner = Runner(SkillLoader(options.cache_size), base_dir, sandboxed=options.sandboxed)
    try:
        if once:
            answer_once(once[0], once[1], runner)
        else:
            # Neither protocol descriptor may leak into processes a skill starts.
            os.set_inheritable(options.in_fd, False)
            os.set_inheritable(options.out_fd, False)
            # Nor may a process the skill forks read the host's next request or answer it.
            os.register_at_fork(
                after_in_child=lambda: [
                    _close_quietly(fd) for fd in (options.in_fd, options.out_fd)
                ]
            )
            serve(options.in_fd, options.out_fd, runner)
    finally:
        os.chdir("/")
        shutil.rmtree(base_dir, ignore_errors=True)
    return 0


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def answer_once(request_path: str, answer_path: str, runner: Runner) -> None:
    with open(request_path, "rb") as handle:
        request = json.load(handle)
    payload, _ = runner.handle(request)
    partial = answer_path + ".partial"
    with open(partial, "wb") as handle:
        handle.write(payload)
    os.replace(partial, answer_path)  # the host never reads half an answer


if __name__ == "__main__":
    sys.exit(main())
