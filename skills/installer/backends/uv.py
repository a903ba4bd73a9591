"""The default backend: `uv pip compile --generate-hashes`, then `uv venv` + `uv pip install`
from that lock, offline first when the lock was already known. The lock is kept once the
environment installed from it and verified; a kept lock that no longer installs is discarded
and the set resolved once more."""

import shutil
import time
import venv
from pathlib import Path

from django.conf import settings

from skills.installer.backends.base import (
    Backend,
    BackendUnavailable,
    BuildResult,
    IndexUnreachableError,
    InstallError,
    ResolutionError,
    first_error_line,
    looks_unreachable,
)
from skills.installer.bytecode import (
    cache_bytecode_compile_later,
    cache_bytecode_is_missing,
    cache_tag_of,
)
from skills.installer.keys import EnvironmentSpec, interpreter_is_running, lock_key
from skills.installer.locks import (
    REQUIREMENTS,
    LockInvalid,
    lock_check,
    lock_discard,
    lock_load,
    lock_save,
)
from skills.installer.process import LogWriter, child_environment, run_logged
from skills.installer.verifier import environment_verify

LOCK_NAME = "atom-requirements.lock"


def uv_binary() -> str:
    if settings.ATOM_UV_BIN:
        return settings.ATOM_UV_BIN
    try:
        from uv import find_uv_bin
    except ImportError:  # pragma: no cover - uv is a dependency of Atom
        raise BackendUnavailable("uv backend: uv is not installed (set ATOM_UV_BIN)") from None
    return find_uv_bin()


def uv_environment() -> dict[str, str]:
    extra = {
        "UV_CACHE_DIR": str(settings.ATOM_UV_CACHE_DIR),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
        "UV_LINK_MODE": "hardlink",
        # No uv.toml of the user's, the system's or a project's above the working directory:
        # one naming an index would bypass the supply-chain settings.
        "UV_NO_CONFIG": "1",
    }
    if settings.ATOM_INSTALL_CA_FILE:
        extra["SSL_CERT_FILE"] = settings.ATOM_INSTALL_CA_FILE
    if settings.ATOM_INSTALL_INDEX_URL:
        extra["UV_INDEX_URL"] = settings.ATOM_INSTALL_INDEX_URL
        extra["UV_DEFAULT_INDEX"] = settings.ATOM_INSTALL_INDEX_URL
    return child_environment(extra)


def resolution_failure(output: str, *, what: str) -> InstallError:
    if "no solution found" in output.lower() or "unsatisfiable" in output.lower():
        return ResolutionError(f"{what}: no solution: {first_error_line(output)}", output=output)
    if looks_unreachable(output):
        return IndexUnreachableError(
            f"{what}: the package index is unreachable: {first_error_line(output)}", output=output
        )
    return InstallError(f"{what} failed: {first_error_line(output)}", output=output)


def work_directory() -> Path:
    """Where uv runs: a directory with no project of its own (never Atom's)."""
    directory = Path(settings.ATOM_ENVS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class _BareEnvBuilder(venv.EnvBuilder):
    """The standard library's venv, without activation scripts (they would name the
    temporary directory) and without pip (uv installs)."""

    def setup_scripts(self, context) -> None:
        return None


def venv_create(*, spec: EnvironmentSpec, workdir: Path, log: LogWriter, timeout: float) -> None:
    """A relocatable virtualenv at `workdir` for the spec's interpreter.

    For the interpreter Atom runs on it is made in this process (far cheaper than starting
    `uv venv`); for any other, by `uv venv`.
    """
    if interpreter_is_running(spec.interpreter):
        _BareEnvBuilder(symlinks=True, with_pip=False).create(workdir)
        with (workdir / "pyvenv.cfg").open("a") as config:
            config.write("relocatable = true\n")  # uv then writes relocatable console scripts
        log(f"created a virtualenv for {spec.interpreter.version} in {workdir.name}")
        return
    created = run_logged(
        [
            uv_binary(),
            "venv",
            "--color",
            "never",
            "--relocatable",
            "--no-project",
            "--quiet",
            "--python",
            spec.interpreter.path,
            str(workdir),
        ],
        log=log,
        env=uv_environment(),
        timeout=timeout,
    )
    if not created.ok:
        raise InstallError(
            f"uv venv failed: {first_error_line(created.output)}", output=created.output
        )


class UvBackend(Backend):
    name = "uv"

    def resolve(self, *, spec: EnvironmentSpec, log: LogWriter) -> str:
        text, _ = self.lock_for(spec=spec, log=log)
        return text

    def lock_for(self, *, spec: EnvironmentSpec, log: LogWriter) -> tuple[str, bool]:
        """The kept lock of the set, or a new resolution (not kept: see `lock_keep`); and
        whether it was kept."""
        key = lock_key(spec=spec, resolver="uv")
        known = lock_load(key, lock_format=REQUIREMENTS)
        if known is not None:
            log(f"resolve: known lock {key[:12]}")
            return known, True
        return self._compile(spec=spec, log=log), False

    def lock_keep(self, *, spec: EnvironmentSpec, lockfile: str) -> None:
        """Keep a lock an environment installed from and verified."""
        lock_save(lock_key(spec=spec, resolver="uv"), lockfile, lock_format=REQUIREMENTS)

    def lock_forget(self, *, spec: EnvironmentSpec, log: LogWriter, reason: str) -> None:
        key = lock_key(spec=spec, resolver="uv")
        log(f"install: the kept lock {key[:12]} did not install ({reason}); resolving again")
        lock_discard(key)

    def _compile(self, *, spec: EnvironmentSpec, log: LogWriter) -> str:
        settings.ATOM_UV_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        result = run_logged(
            [
                uv_binary(),
                "pip",
                "compile",
                "--color",
                "never",
                "--generate-hashes",
                "--no-header",
                "--python",
                spec.interpreter.path,
                "-",
            ],
            log=log,
            env=uv_environment(),
            timeout=settings.ATOM_INSTALL_TIMEOUT,
            cwd=work_directory(),
            stdin="\n".join(spec.requirements) + "\n",
            capture_stdout=True,
        )
        if not result.ok:
            raise resolution_failure(result.output, what="resolution")
        try:
            lock_check(result.stdout, lock_format=REQUIREMENTS)
        except LockInvalid as error:
            raise InstallError(
                f"resolution printed no usable lock: {error}", output=result.stdout
            ) from None
        return result.stdout

    def build(self, *, spec: EnvironmentSpec, workdir: Path, log: LogWriter) -> BuildResult:
        started = time.perf_counter()
        lockfile, known = self.lock_for(spec=spec, log=log)
        resolved = time.perf_counter()
        try:
            installed = self._install(
                spec=spec, workdir=workdir, lockfile=lockfile, known=known, log=log
            )
        except IndexUnreachableError:
            raise  # the lock may be fine: the index is not
        except InstallError as error:
            if not known:
                raise
            # A kept lock that no longer installs or verifies (a yanked file, a changed hash,
            # a lock damaged on disk): discarded, and the set resolved once more before failing.
            self.lock_forget(spec=spec, log=log, reason=error.message)
            shutil.rmtree(workdir, ignore_errors=True)
            lockfile, known = self._compile(spec=spec, log=log), False
            resolved = time.perf_counter()
            installed = self._install(
                spec=spec, workdir=workdir, lockfile=lockfile, known=False, log=log
            )
        if not known:
            self.lock_keep(spec=spec, lockfile=lockfile)
        return BuildResult(
            lockfile=lockfile,
            resolve_seconds=resolved - started,
            install_seconds=installed - resolved,
            verify_seconds=time.perf_counter() - installed,
            lock_was_known=known,
        )

    def _install(
        self, *, spec: EnvironmentSpec, workdir: Path, lockfile: str, known: bool, log: LogWriter
    ) -> float:
        """Install `lockfile` into a new virtualenv at `workdir`, then verify it; returns when
        the install (before verification) finished, on the `perf_counter` clock."""
        env = uv_environment()
        timeout = settings.ATOM_INSTALL_TIMEOUT
        venv_create(spec=spec, workdir=workdir, log=log, timeout=timeout)
        lock_path = workdir / LOCK_NAME
        lock_path.write_text(lockfile)
        install = [
            uv_binary(),
            "pip",
            "install",
            "--color",
            "never",
            "--python",
            str(workdir / "bin" / "python"),
            "--require-hashes",
            "--link-mode",
            "hardlink",
            "-r",
            str(lock_path),
        ]
        installed = None
        if known:
            installed = run_logged([*install, "--offline"], log=log, env=env, timeout=timeout)
            if not installed.ok:
                log("install: not everything is in the cache; installing from the index")
        if installed is None or not installed.ok:
            installed = run_logged(install, log=log, env=env, timeout=timeout)
        if not installed.ok:
            raise resolution_failure(installed.output, what="install")
        finished = time.perf_counter()
        environment_verify(
            spec=spec, python=workdir / "bin" / "python", log=log, timeout=float(timeout)
        )
        return finished

    def after_ready(self, *, spec: EnvironmentSpec, location: str) -> None:
        # The next environment made of these wheels gets their bytecode by hardlink.
        if cache_bytecode_is_missing(location=location, cache_tag=cache_tag_of(spec.interpreter)):
            python = str(Path(location) / "bin" / "python")
            cache_bytecode_compile_later(python=python, location=location)
