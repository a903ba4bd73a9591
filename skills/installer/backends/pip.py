"""The pip backend, for machines without uv: `python -m venv` + pip, with a lock (pins and
sha256 hashes) taken from pip's installation report and reused with `--require-hashes`. The
lock is kept once the environment verified; a kept lock that no longer installs is discarded
and the set resolved once more."""

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from skills.installer.backends.base import (
    Backend,
    BuildResult,
    IndexUnreachableError,
    InstallError,
    ResolutionError,
    first_error_line,
    looks_unreachable,
)
from skills.installer.keys import EnvironmentSpec, lock_key
from skills.installer.locks import REQUIREMENTS, lock_discard, lock_load, lock_save
from skills.installer.process import LogWriter, child_environment, run_logged
from skills.installer.verifier import environment_verify

LOCK_NAME = "atom-requirements.lock"
INPUT_NAME = "atom-requirements.in"


def pip_environment() -> dict[str, str]:
    extra = {
        "PIP_CACHE_DIR": str(Path(settings.ATOM_DATA_DIR) / "pip-cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_PROGRESS_BAR": "off",
        "PIP_NO_COLOR": "1",
        # pip reads no configuration file at all (global, user, site) when this is os.devnull;
        # its PIP_* variables, Atom's choices, still apply.
        "PIP_CONFIG_FILE": os.devnull,
    }
    if settings.ATOM_INSTALL_CA_FILE:
        extra["PIP_CERT"] = settings.ATOM_INSTALL_CA_FILE
    if settings.ATOM_INSTALL_INDEX_URL:
        extra["PIP_INDEX_URL"] = settings.ATOM_INSTALL_INDEX_URL
    return child_environment(extra)


def pip_failure(output: str, *, what: str) -> InstallError:
    lowered = output.lower()
    if "resolutionimpossible" in lowered or "no matching distribution" in lowered:
        if looks_unreachable(output):
            return IndexUnreachableError(
                f"{what}: the package index is unreachable: {first_error_line(output)}",
                output=output,
            )
        return ResolutionError(f"{what}: no solution: {first_error_line(output)}", output=output)
    if looks_unreachable(output):
        return IndexUnreachableError(
            f"{what}: the package index is unreachable: {first_error_line(output)}", output=output
        )
    return InstallError(f"{what} failed: {first_error_line(output)}", output=output)


def lock_from_report(report: dict) -> tuple[str, bool]:
    """Pins with hashes from pip's `--report`; complete is False when an artifact has none."""
    lines, complete = [], True
    for item in sorted(report.get("install", []), key=lambda item: item["metadata"]["name"]):
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        info = item.get("download_info") or {}
        archive = info.get("archive_info") or {}
        digest = (archive.get("hashes") or {}).get("sha256")
        if digest is None and str(archive.get("hash", "")).startswith("sha256="):
            digest = archive["hash"].split("=", 1)[1]
        if digest is None and info.get("url", "").startswith("file://"):
            digest = hashlib.sha256(
                Path(unquote(urlsplit(info["url"]).path)).read_bytes()
            ).hexdigest()
        if digest is None:
            complete = False
            lines.append(
                f"{name}=={version}  # no hash known for {info.get('url', 'this artifact')}"
            )
        else:
            lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    return "\n".join(lines) + "\n", complete


def scripts_point_at(*, workdir: Path, location: Path) -> list[str]:
    """Console scripts name their interpreter by absolute path (pip has no relocatable mode):
    point them at the environment's final place, where the rename will put it."""
    rewritten = []
    old, new = f"#!{workdir}/bin/", f"#!{location}/bin/"
    for script in sorted((workdir / "bin").iterdir()):
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as handle:
            if handle.read(len(old)) != old.encode():
                continue
        script.write_bytes(script.read_bytes().replace(old.encode(), new.encode(), 1))
        rewritten.append(script.name)
    return rewritten


class PipBackend(Backend):
    name = "pip"

    def resolve(self, *, spec: EnvironmentSpec, log: LogWriter) -> str:
        known = lock_load(lock_key(spec=spec, resolver="pip"), lock_format=REQUIREMENTS)
        if known is not None:
            return known
        result = run_logged(
            [
                spec.interpreter.path,
                "-m",
                "pip",
                "install",
                "--no-color",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--report",
                "-",
                *spec.requirements,
            ],
            log=log,
            env=pip_environment(),
            timeout=settings.ATOM_INSTALL_TIMEOUT,
            capture_stdout=True,
        )
        if not result.ok:
            raise pip_failure(result.output, what="resolution")
        lockfile, _ = lock_from_report(json.loads(result.stdout))
        return lockfile

    def build(self, *, spec: EnvironmentSpec, workdir: Path, log: LogWriter) -> BuildResult:
        started = time.perf_counter()
        key = lock_key(spec=spec, resolver="pip")
        known = lock_load(key, lock_format=REQUIREMENTS)
        try:
            lockfile, complete, resolved, installed = self._install(
                spec=spec, workdir=workdir, known=known, log=log
            )
        except IndexUnreachableError:
            raise  # the lock may be fine: the index is not
        except InstallError as error:
            if known is None:
                raise
            # A kept lock that no longer installs or verifies: discarded, and the set
            # resolved once more before failing.
            log(
                f"install: the kept lock {key[:12]} did not install ({error.message}); "
                "resolving again"
            )
            lock_discard(key)
            shutil.rmtree(workdir, ignore_errors=True)
            known = None
            lockfile, complete, resolved, installed = self._install(
                spec=spec, workdir=workdir, known=None, log=log
            )
        if known is None and complete:
            lock_save(key, lockfile, lock_format=REQUIREMENTS)
        return BuildResult(
            lockfile=lockfile,
            resolve_seconds=resolved - started,
            install_seconds=installed - resolved,
            verify_seconds=time.perf_counter() - installed,
            lock_was_known=known is not None,
        )

    def _install(
        self, *, spec: EnvironmentSpec, workdir: Path, known: str | None, log: LogWriter
    ) -> tuple[str, bool, float, float]:
        """A new virtualenv at `workdir` with the kept lock `known` installed (or the set,
        resolved by pip), verified: (the lock, whether it is complete enough to keep, when
        the virtualenv was made, when the install finished before verification)."""
        env = pip_environment()
        timeout = settings.ATOM_INSTALL_TIMEOUT
        created = run_logged(
            [spec.interpreter.path, "-m", "venv", str(workdir)], log=log, env=env, timeout=timeout
        )
        if not created.ok:
            raise InstallError(
                f"python -m venv failed: {first_error_line(created.output)}", output=created.output
            )
        pip = [
            str(workdir / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-color",
            "--no-warn-script-location",
        ]
        resolved = time.perf_counter()
        if known is not None:
            (workdir / LOCK_NAME).write_text(known)
            installed = run_logged(
                [*pip, "--require-hashes", "--no-deps", "-r", str(workdir / LOCK_NAME)],
                log=log,
                env=env,
                timeout=timeout,
            )
            lockfile, complete = known, True
        else:
            (workdir / INPUT_NAME).write_text("\n".join(spec.requirements) + "\n")
            report = workdir / "atom-install-report.json"
            installed = run_logged(
                [*pip, "--report", str(report), "-r", str(workdir / INPUT_NAME)],
                log=log,
                env=env,
                timeout=timeout,
            )
            lockfile, complete = "", False
            if installed.ok:
                lockfile, complete = lock_from_report(json.loads(report.read_text()))
                report.unlink()
                (workdir / LOCK_NAME).write_text(lockfile)
                if not complete:
                    log("lock: some artifacts have no known hash; the lock is not kept")
        if not installed.ok:
            raise pip_failure(installed.output, what="install")
        scripts_point_at(workdir=workdir, location=Path(self.location_for(spec.key)))
        finished = time.perf_counter()
        environment_verify(
            spec=spec, python=workdir / "bin" / "python", log=log, timeout=float(timeout)
        )
        return lockfile, complete, resolved, finished
