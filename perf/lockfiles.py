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

from packaging.utils import canonicalize_name

from perf.registry import lockfile_lookup, version_names_lookup

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
    its newest sample, looked up by the app that registered a lockfile lookup (None without
    one). The version regressions' default."""
    from perf.models import Sample

    lookup = lockfile_lookup()
    if lookup is None:
        return None
    key = (
        Sample.objects.filter(skill=skill, version=version)
        .exclude(environment_key="")
        .order_by("-created_at")
        .values_list("environment_key", flat=True)
        .first()
    )
    if key is None:
        return None
    return lookup(key=key) or None


def version_names(skill: str, versions: list[str]) -> dict[str, str]:
    """What people call each version, by the names the app that registered them gives (a
    content hash: "1.2.0 (3f2a9c1d0b7e)"); other values stay as they are."""
    names = version_names_lookup()
    known = names(skill=skill, versions=versions) if names is not None else {}
    return {version: known.get(version, version) for version in versions}
