"""The npm backend for Node skills: `npm install` (or `npm ci` from a kept lock) into a private
directory, `package-lock.json` (with integrity hashes) kept as the lockfile once the
environment verified; a kept lock that no longer installs is discarded and the set resolved
again."""

import json
import os
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings

from skills.installer.backends.base import (
    Backend,
    BuildResult,
    IndexUnreachableError,
    InstallError,
    ResolutionError,
    VerificationError,
    first_error_line,
    looks_unreachable,
)
from skills.installer.keys import EnvironmentSpec, lock_key
from skills.installer.locks import NPM, lock_discard, lock_load, lock_save
from skills.installer.process import LogWriter, child_environment, run_logged
from skills.installer.semver import intervals_as_range, ranges_intersect
from skills.requirements import node_requirement_parse

NODE_VERIFY = r"""
const names = JSON.parse(process.argv[1]);
(async () => {
  const checked = [], failures = [];
  for (const name of names) {
    try { await import(name); checked.push(name); }
    catch (error) { failures.push(`${name}: import failed: ${error.message.split("\n")[0]}`); }
  }
  console.log(JSON.stringify({ checked, failures }));
})();
"""


def npm_config_text() -> str:
    """The one npmrc npm reads, in place of the user's (~/.npmrc) and the global one: Atom's
    own settings, so a file Atom did not write never names the registry."""
    lines = [
        "# Written by Atom from its settings; npm reads it instead of ~/.npmrc.",
        "update-notifier=false",
        "fund=false",
        "audit=false",
        "color=false",
    ]
    if settings.ATOM_INSTALL_CA_FILE:
        lines.append(f"cafile={settings.ATOM_INSTALL_CA_FILE}")
    if settings.ATOM_NPM_REGISTRY:
        lines.append(f"registry={settings.ATOM_NPM_REGISTRY}")
    return "\n".join(lines) + "\n"


def file_written(path: Path, text: str) -> Path:
    """`path` holding `text`, rewritten atomically when it differs."""
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}-{os.getpid()}-{threading.get_ident()}")
        staged.write_text(text)
        staged.replace(path)
    return path


def npm_environment() -> dict[str, str]:
    directory = Path(settings.ATOM_DATA_DIR) / "npm"
    # npm refuses one file as both; the global one is Atom's too, and says nothing.
    user = file_written(directory / "npmrc", npm_config_text())
    global_ = file_written(directory / "global-npmrc", "# Written by Atom: see npmrc.\n")
    return child_environment(
        {
            "NO_UPDATE_NOTIFIER": "1",
            "npm_config_update_notifier": "false",
            "npm_config_color": "false",
            "npm_config_userconfig": str(user),
            "npm_config_globalconfig": str(global_),
        }
    )


def npm_failure(output: str, *, what: str) -> InstallError:
    lowered = output.lower()
    if "e404" in lowered or "etarget" in lowered or "eresolve" in lowered:
        return ResolutionError(f"{what}: no solution: {first_error_line(output)}", output=output)
    if looks_unreachable(output):
        return IndexUnreachableError(
            f"{what}: the npm registry is unreachable: {first_error_line(output)}", output=output
        )
    return InstallError(f"{what} failed: {first_error_line(output)}", output=output)


def package_json(spec: EnvironmentSpec) -> str:
    """The environment's package.json: a package asked for with several ranges gets their
    intersection (package.json holds one range per name)."""
    ranges: dict[str, list[str]] = {}
    for text in spec.requirements:
        requirement = node_requirement_parse(text)
        ranges.setdefault(requirement.name, []).append(requirement.range)
    dependencies = {
        name: wanted[0] if len(wanted) == 1 else intervals_as_range(ranges_intersect(wanted))
        for name, wanted in sorted(ranges.items())
    }
    manifest = {"name": "atom-env", "version": "0.0.0", "private": True}
    return json.dumps({**manifest, "dependencies": dependencies}, indent=2) + "\n"


class NpmBackend(Backend):
    name = "npm"

    def is_present(self, location: str) -> bool:
        return os.path.isfile(os.path.join(location, "package.json")) and os.path.isdir(
            os.path.join(location, "node_modules")
        )

    def _options(self) -> list[str]:
        options = ["--no-audit", "--no-fund", "--color", "false", "--loglevel", "warn", "--cache"]
        options.append(str(settings.ATOM_NPM_CACHE_DIR))
        if settings.ATOM_NPM_IGNORE_SCRIPTS:
            options.append("--ignore-scripts")
        if settings.ATOM_NPM_REGISTRY:
            options += ["--registry", settings.ATOM_NPM_REGISTRY]
        return options

    def resolve(self, *, spec: EnvironmentSpec, log: LogWriter) -> str:
        key = lock_key(spec=spec, resolver="npm")
        known = lock_load(key, lock_format=NPM)
        if known is not None:
            return known
        directory = Path(settings.ATOM_ENVS_DIR) / ".tmp" / f"resolve-{key}-{os.getpid()}"
        directory.mkdir(parents=True, exist_ok=True)
        try:
            (directory / "package.json").write_text(package_json(spec))
            result = run_logged(
                [settings.ATOM_NPM_BIN, "install", "--package-lock-only", *self._options()],
                log=log,
                env=npm_environment(),
                timeout=settings.ATOM_INSTALL_TIMEOUT,
                cwd=directory,
            )
            if not result.ok:
                raise npm_failure(result.output, what="resolution")
            lockfile = (directory / "package-lock.json").read_text()
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return lockfile

    def build(self, *, spec: EnvironmentSpec, workdir: Path, log: LogWriter) -> BuildResult:
        started = time.perf_counter()
        workdir.mkdir(parents=True)
        (workdir / "package.json").write_text(package_json(spec))
        env, timeout = npm_environment(), settings.ATOM_INSTALL_TIMEOUT
        key = lock_key(spec=spec, resolver="npm")
        known = lock_load(key, lock_format=NPM)
        installed = None
        if known is not None:
            (workdir / "package-lock.json").write_text(known)
            installed = run_logged(
                [settings.ATOM_NPM_BIN, "ci", "--prefer-offline", *self._options()],
                log=log,
                env=env,
                timeout=timeout,
                cwd=workdir,
            )
            if not installed.ok:
                log(f"install: the kept lock {key[:12]} did not install; resolving again")
                lock_discard(key)
                (workdir / "package-lock.json").unlink(missing_ok=True)
        if installed is None or not installed.ok:
            installed = run_logged(
                [settings.ATOM_NPM_BIN, "install", *self._options()],
                log=log,
                env=env,
                timeout=timeout,
                cwd=workdir,
            )
        if not installed.ok:
            raise npm_failure(installed.output, what="install")
        lockfile = (workdir / "package-lock.json").read_text()
        # npm makes no node_modules for an empty set; its presence marks a whole environment.
        (workdir / "node_modules").mkdir(exist_ok=True)
        finished = time.perf_counter()
        self._verify(spec=spec, workdir=workdir, log=log)
        if lockfile != known:  # installed and verified: kept
            lock_save(key, lockfile, lock_format=NPM)
        return BuildResult(
            lockfile=lockfile,
            install_seconds=finished - started,
            verify_seconds=time.perf_counter() - finished,
            lock_was_known=known is not None,
        )

    def check(self, *, spec: EnvironmentSpec, location: str, log: LogWriter) -> None:
        if not self.is_present(location):
            raise VerificationError(f"{location} is missing")
        self._verify(spec=spec, workdir=Path(location), log=log)

    def _verify(self, *, spec: EnvironmentSpec, workdir: Path, log: LogWriter) -> None:
        names = [node_requirement_parse(text).name for text in spec.requirements]
        result = run_logged(
            [settings.ATOM_NODE_BIN, "-e", NODE_VERIFY, json.dumps(names)],
            log=lambda line: None,
            env=npm_environment(),
            timeout=float(settings.ATOM_INSTALL_TIMEOUT),
            cwd=workdir,
            capture_stdout=True,
        )
        if not result.ok:
            raise VerificationError(
                f"verification could not run: {first_error_line(result.output)}",
                output=result.output,
            )
        report = json.loads(result.stdout.strip().splitlines()[-1])
        if report["failures"]:
            raise VerificationError(
                "verification failed: " + "; ".join(report["failures"]), output=result.stdout
            )
        log("verify: imported " + (", ".join(report["checked"]) or "nothing (no requirements)"))
