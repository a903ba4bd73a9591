"""What changed between two environments' lockfiles, for a version regression's alert.

Reads the forms an environment's lockfile takes here: pinned requirements (`uv pip compile`
output: `name==version`, hashes on continuation lines, comments) and TOML lockfiles with
`[[package]]` tables (uv.lock, pylock.toml). npm's package-lock.json (its `packages` map) too.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field

from django.apps import apps
from packaging.utils import canonicalize_name

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*([^\s;\\]+)")


@dataclass(frozen=True)
class LockfileDiff:
    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def describe(self) -> str:
        if self.is_empty:
            return "no package changed"
        parts = [f"{name} {old} → {new}" for name, (old, new) in sorted(self.changed.items())]
        parts += [f"+{name} {version}" for name, version in sorted(self.added.items())]
        parts += [f"-{name} {version}" for name, version in sorted(self.removed.items())]
        return ", ".join(parts)


def lockfile_packages(text: str) -> dict[str, str]:
    """{normalized name: version} of a lockfile's text, whichever of the known forms it is."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _npm_packages(json.loads(text))
    if "[[package]]" in text or "[[packages]]" in text:
        return _toml_packages(tomllib.loads(text))
    pins = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match and not line.lstrip().startswith("#"):
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _toml_packages(document: dict) -> dict[str, str]:
    entries = document.get("package") or document.get("packages") or []
    return {
        canonicalize_name(entry["name"]): str(entry.get("version", ""))
        for entry in entries
        if "name" in entry
    }


def _npm_packages(document: dict) -> dict[str, str]:
    packages = document.get("packages") or {}
    found = {}
    for path, entry in packages.items():
        if path and "version" in entry:
            found[path.rsplit("node_modules/", 1)[-1]] = entry["version"]
    return found


def lockfile_diff(old_text: str, new_text: str) -> LockfileDiff:
    """Packages added, removed and changed from the old lockfile to the new one."""
    old, new = lockfile_packages(old_text), lockfile_packages(new_text)
    return LockfileDiff(
        added={name: new[name] for name in new.keys() - old.keys()},
        removed={name: old[name] for name in old.keys() - new.keys()},
        changed={
            name: (old[name], new[name])
            for name in old.keys() & new.keys()
            if old[name] != new[name]
        },
    )


def lockfile_of_sampled_environment(skill: str, version: str) -> str | None:
    """The lockfile of the environment a skill version last ran in: the `environment_key` of
    its newest sample, looked up among the installer's environments. The default
    `PERF_LOCKFILE_LOOKUP`."""
    from perf.models import Sample

    key = (
        Sample.objects.filter(skill=skill, version=version)
        .exclude(environment_key="")
        .order_by("-created_at")
        .values_list("environment_key", flat=True)
        .first()
    )
    if key is None:
        return None
    try:
        environment = apps.get_model("skills", "Environment")
    except LookupError:  # the installer is not part of this site
        return None
    found = environment.objects.filter(key=key).values_list("lockfile", flat=True).first()
    return found or None


def version_names(skill: str, versions: list[str]) -> dict[str, str]:
    """What people call each version: samples of skill runs carry the content hash, which the
    catalog maps to the version number ("1.2.0 (3f2a9c1d0b7e)"); other values stay as they are."""
    try:
        skill_version = apps.get_model("skills", "SkillVersion")
    except LookupError:
        return {version: version for version in versions}
    numbers = dict(
        skill_version.objects.filter(skill__slug=skill, content_hash__in=versions).values_list(
            "content_hash", "version"
        )
    )
    return {
        version: f"{numbers[version]} ({version[:12]})" if version in numbers else version
        for version in versions
    }
