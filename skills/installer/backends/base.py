"""What every backend provides, and the errors a build reports."""

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from skills.installer.keys import EnvironmentSpec
from skills.installer.process import LogWriter, child_environment, run_logged


class InstallError(RuntimeError):
    """A build that failed, with one clear sentence and the tool's own output kept verbatim."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output


class ResolutionError(InstallError):
    """The resolver found no set of versions satisfying the requirements."""


class IndexUnreachableError(InstallError):
    """The package index (or registry) could not be reached; retrying later may succeed."""


class VerificationError(InstallError):
    """The environment installed but a requirement's module does not import."""


class BackendUnavailable(InstallError):
    """The backend cannot run here at all (no engine, no program)."""


@dataclass
class BuildResult:
    lockfile: str = ""
    location: str = ""
    size_bytes: int | None = None
    resolve_seconds: float = 0.0
    install_seconds: float = 0.0
    verify_seconds: float = 0.0
    lock_was_known: bool = False
    notes: list[str] = field(default_factory=list)


UNREACHABLE_HINTS = (
    "connection refused",
    "failed to connect",
    "could not connect",
    "dns error",
    "name or service not known",
    "temporary failure in name resolution",
    "network is unreachable",
    "timed out",
    "econnrefused",
    "enotfound",
    "eai_again",
    "max retries exceeded",
    "failed to fetch",
)


def looks_unreachable(output: str) -> bool:
    lowered = output.lower()
    return any(hint in lowered for hint in UNREACHABLE_HINTS)


def first_error_line(output: str) -> str:
    """The tool's own explanation in one line: its error line and the cause lines after it."""
    picked: list[str] = []
    for line in output.splitlines():
        stripped = line.strip(" ×╰─▶│")
        lowered = stripped.lower()
        if lowered.startswith(("error", "because", "cause", "npm err", "npm error")):
            if lowered.startswith(("cause:", "caused by:")):
                stripped = stripped.split(":", 1)[1].strip()
            if stripped not in picked:
                picked.append(stripped)
        elif picked and stripped and lowered.startswith(("and ", "we can conclude")):
            picked.append(stripped)
        if len(picked) >= 4:
            break
    if picked:
        return " ".join(part if part.endswith(":") else part.rstrip(".") + "." for part in picked)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def tree_size(path: Path) -> int:
    """Bytes used by the files under `path`, counting a hardlinked file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


class Backend:
    """Builds an environment into a private working directory; the builder moves it into place."""

    name = ""

    def build(self, *, spec: EnvironmentSpec, workdir: Path, log: LogWriter) -> BuildResult:
        raise NotImplementedError

    def resolve(self, *, spec: EnvironmentSpec, log: LogWriter) -> str:
        """A lockfile for the set, without installing anything (raises `ResolutionError`)."""
        raise NotImplementedError

    def location_for(self, key: str) -> str:
        return str(Path(settings.ATOM_ENVS_DIR) / key)

    def is_present(self, location: str) -> bool:
        """Whether the environment is still there (someone may have deleted it)."""
        return os.path.exists(os.path.join(location, "bin", "python"))

    def place(self, *, workdir: Path, location: str, trash: Path) -> int:
        """Move a finished build into place atomically; return its size in bytes."""
        size = tree_size(workdir)
        final = Path(location)
        if final.exists() or final.is_symlink():
            # A leftover of a build that was killed after its rename, or a broken copy:
            # nobody uses it (the row is not ready), so it goes to the trash first.
            os.rename(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(workdir, final)
        return size

    def remove(self, location: str) -> None:
        shutil.rmtree(location, ignore_errors=True)

    def after_ready(self, *, spec: EnvironmentSpec, location: str) -> None:
        """Work for later builds, done once this one is marked ready (nothing by default)."""

    def check(self, *, spec: EnvironmentSpec, location: str, log: LogWriter) -> None:
        """Check a ready environment as its build did: present, and every requirement imports
        (raises `VerificationError`)."""
        if not self.is_present(location):
            raise VerificationError(f"{location} is missing")
        from skills.installer.verifier import environment_verify

        environment_verify(
            spec=spec,
            python=Path(location) / "bin" / "python",
            log=log,
            timeout=float(settings.ATOM_INSTALL_TIMEOUT),
        )


# Runs inside the new environment. Plain file reads, no importlib.metadata: that import alone
# costs more than a small environment's whole install.
PYTHON_VERIFY = r"""
import importlib, json, os, sys

def normal(name):
    return name.lower().replace("-", "_").replace(".", "_")

def metadata_dir(name):
    wanted = normal(name)
    for directory in sys.path:
        if not directory.endswith("site-packages") or not os.path.isdir(directory):
            continue
        for entry in os.listdir(directory):
            is_metadata = entry.endswith((".dist-info", ".egg-info"))
            if is_metadata and normal(entry.split("-")[0]) == wanted:
                return os.path.join(directory, entry)
    return None

def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""

def top_level(path):
    text = read(os.path.join(path, "top_level.txt"))
    if text:
        names = {line.strip().replace("/", ".") for line in text.splitlines() if line.strip()}
    else:
        names = set()
        for line in read(os.path.join(path, "RECORD")).splitlines():
            parts = line.split(",")[0].strip('"').split("/")
            if not parts[0] or parts[0] in ("..", "__pycache__"):
                continue
            if parts[0].endswith((".dist-info", ".egg-info", ".data")):
                continue
            if len(parts) > 1:
                names.add(parts[0])
            elif parts[0].endswith(".py"):
                names.add(parts[0][:-3])
            elif parts[0].endswith((".so", ".pyd")):
                names.add(parts[0].split(".")[0])
    names = {name for name in names if name.split(".")[0].isidentifier()}
    public = {name for name in names if not name.startswith("_")}
    return sorted(public or names)

checked, failures = [], []
for name, has_marker in json.loads(sys.argv[1]):
    path = metadata_dir(name)
    if path is None:
        if not has_marker:
            failures.append(f"{name}: not installed")
        continue
    modules = top_level(path)
    if not modules:
        failures.append(f"{name}: installs no importable module")
    for module in modules:
        try:
            importlib.import_module(module)
            checked.append(module)
        except BaseException as error:
            failures.append(f"{name}: import {module} failed: {type(error).__name__}: {error}")
print(json.dumps({"checked": checked, "failures": failures}))
"""


def verify_wanted(spec: EnvironmentSpec) -> list[list]:
    """[distribution name, has a marker] for each requirement, as the verify script reads them."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    wanted = []
    for text in spec.requirements:
        requirement = Requirement(text)
        wanted.append([canonicalize_name(requirement.name), requirement.marker is not None])
    return wanted


def python_verify(
    *, spec: EnvironmentSpec, python: Path, log: LogWriter, timeout: float
) -> list[str]:
    """Import every requirement's top-level modules in the new environment.

    A clean resolution can still be broken (a pin the package's code does not work with); the
    modules come from the installed distribution's top_level.txt, or its RECORD when a wheel
    has no top_level.txt. Returns the modules imported; raises `VerificationError`.
    """
    wanted = verify_wanted(spec)
    result = run_logged(
        [str(python), "-I", "-c", PYTHON_VERIFY, json.dumps(wanted)],
        log=lambda line: None,
        env=child_environment(),
        timeout=timeout,
        capture_stdout=True,
    )
    if not result.ok:
        raise VerificationError(
            f"verification could not run: {first_error_line(result.output)}", output=result.output
        )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["failures"]:
        for failure in report["failures"]:
            log(f"verify: {failure}")
        raise VerificationError(
            "verification failed: " + "; ".join(report["failures"]), output=result.output
        )
    log("verify: imported " + (", ".join(report["checked"]) or "nothing (no requirements)"))
    return report["checked"]
