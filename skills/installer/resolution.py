"""Resolving several skills' requirements together, with conflicts reported as data.

First a pre-check in memory: per package, every specifier the skills ask for is intersected
with `packaging` (pins against pins and ranges, lower bounds against upper bounds), which finds
the direct contradictions across 50 skills in a few milliseconds. What passes goes to the real
resolver (uv), which also sees the transitive ones; its explanation is kept verbatim and the
packages it names are reported with the skills that ask for them.
"""

import functools
import re
import time
from dataclasses import asdict, dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import Specifier
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from skills.installer.backends import IndexUnreachableError, ResolutionError, backend_get
from skills.installer.builder import spec_for
from skills.installer.keys import environment_spec
from skills.installer.perf import measured
from skills.policy import PolicyError, policy_current
from skills.requirements import RequirementError, python_requirement_parse

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


@dataclass(frozen=True)
class PackageRequest:
    skill: str
    specifier: str  # the requirement as the skill wrote it


@dataclass
class Conflict:
    package: str
    requests: list[PackageRequest]
    reason: str


@dataclass
class Resolution:
    ok: bool
    stage: str  # "precheck" or "resolver"
    conflicts: list[Conflict] = field(default_factory=list)
    resolver_output: str = ""
    lockfile: str = ""
    packages: list[dict[str, str]] = field(default_factory=list)
    precheck_seconds: float = 0.0
    resolve_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class ResolutionRefused(ValueError):
    """Invalid or policy-refused requirements: each problem names its skill."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['skill']}: {p['message']}" for p in problems))
        self.problems = problems


def _bound_conflict(specifiers: list[tuple[PackageRequest, Specifier]]) -> str:
    """Why these specifiers admit no version, or "" when they may (a necessary check only)."""
    pins: list[tuple[PackageRequest, Version]] = []
    lower: tuple[Version, bool, PackageRequest] | None = None  # version, inclusive, who
    upper: tuple[Version, bool, PackageRequest] | None = None
    for request, specifier in specifiers:
        operator, text = specifier.operator, specifier.version
        try:
            if operator in ("==", "===") and not text.endswith(".*"):
                pins.append((request, _version(text)))
                continue
            if operator == "==" and text.endswith(".*"):
                base = _version(text[:-2])
                low, high = base, _bump(base, len(base.release) - 1)
                bounds = [(">=", low), ("<", high)]
            elif operator == "~=":
                base = _version(text)
                bounds = [(">=", base), ("<", _bump(base, len(base.release) - 2))]
            elif operator in (">", ">=", "<", "<="):
                bounds = [(operator, _version(text))]
            else:
                continue
        except InvalidVersion:
            continue
        for bound_operator, version in bounds:
            inclusive = bound_operator in (">=", "<=")
            if bound_operator.startswith(">"):
                if lower is None or version > lower[0] or (version == lower[0] and not inclusive):
                    lower = (version, inclusive, request)
            elif upper is None or version < upper[0] or (version == upper[0] and not inclusive):
                upper = (version, inclusive, request)
    for request, version in pins:
        for other, specifier in specifiers:
            if not specifier.contains(version, prereleases=True):
                return f"{request.specifier} ({request.skill}) is excluded by {other.specifier}"
    if lower and upper:
        empty = lower[0] > upper[0] or (lower[0] == upper[0] and not (lower[1] and upper[1]))
        if empty:
            return (
                f"{lower[2].specifier} ({lower[2].skill}) and {upper[2].specifier} "
                f"({upper[2].skill}) leave no version"
            )
    return ""


def _bump(version: Version, index: int) -> Version:
    release = list(version.release) + [0] * max(0, index + 1 - len(version.release))
    index = max(index, 0)
    release = release[: index + 1]
    release[index] += 1
    return Version(".".join(map(str, release)))


@functools.lru_cache(maxsize=8192)
def _parsed(text: str) -> tuple[str, Requirement]:
    # Pure functions of the text, and skills repeat their requirement strings from call to
    # call: parsing is most of the pre-check's cost, so it is done once per string.
    parsed = python_requirement_parse(text)
    return parsed.name, parsed.requirement


@functools.lru_cache(maxsize=8192)
def _version(text: str) -> Version:
    return Version(text)


def conflicts_precheck(*, requirement_sets: dict[str, list[str]]) -> list[Conflict]:
    """Direct contradictions between the skills' specifiers for the same package.

    `requirement_sets` maps a label (a skill slug, a workflow step) to its Python requirement
    strings. Requirements whose marker excludes this interpreter are left out.
    """
    wanted: dict[str, list[tuple[PackageRequest, Requirement]]] = {}
    for label, texts in requirement_sets.items():
        for text in texts:
            name, requirement = _parsed(text)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            wanted.setdefault(name, []).append((PackageRequest(label, text), requirement))
    conflicts = []
    for package, entries in sorted(wanted.items()):
        if len(entries) < 2:
            continue
        specifiers = [(request, spec) for request, req in entries for spec in req.specifier]
        reason = _bound_conflict(specifiers)
        if reason:
            requests = [request for request, _ in entries]
            conflicts.append(Conflict(package=package, requests=requests, reason=reason))
    return conflicts


def _problems(requirement_sets: dict[str, list[str]]) -> list[dict[str, str]]:
    problems = []
    for label, texts in requirement_sets.items():
        try:
            spec_for(language="python", requirements=texts)
        except PolicyError as error:
            problems.extend(
                {"skill": label, **violation.as_dict()} for violation in error.violations
            )
        except RequirementError as error:
            problems.append(
                {
                    "skill": label,
                    "requirement": error.requirement,
                    "rule": "valid-requirement",
                    "message": str(error),
                }
            )
    return problems


def dependencies_resolve(
    *, requirement_sets: dict[str, list[str]], explain: bool = False
) -> Resolution:
    """Resolve every set together (Python): the pre-check, then uv.

    Raises `ResolutionRefused` for invalid or policy-refused requirements, and
    `IndexUnreachableError` when the index cannot be reached. With `explain`, a pre-check
    conflict still goes to the resolver so its own explanation is reported too.
    """
    problems = _problems(requirement_sets)
    if problems:
        raise ResolutionRefused(problems)
    with measured("dependency_resolution", sets=len(requirement_sets)):
        started = time.perf_counter()
        conflicts = conflicts_precheck(requirement_sets=requirement_sets)
        precheck_seconds = time.perf_counter() - started
        if conflicts and not explain:
            return Resolution(
                ok=False, stage="precheck", conflicts=conflicts, precheck_seconds=precheck_seconds
            )
        combined = [text for texts in requirement_sets.values() for text in texts]
        # Each set passed the policy on its own; the union is only resolved, never installed.
        spec = environment_spec(
            language="python",
            requirements=combined,
            policy_version=policy_current().version,
            backend="uv",
        )
        started = time.perf_counter()
        try:
            lockfile = backend_get("uv").resolve(spec=spec, log=lambda line: None)
        except IndexUnreachableError:
            raise
        except ResolutionError as error:
            named = _named_in(error.output, requirement_sets)
            return Resolution(
                ok=False,
                stage="precheck" if conflicts else "resolver",
                conflicts=conflicts or named,
                resolver_output=error.output,
                precheck_seconds=precheck_seconds,
                resolve_seconds=time.perf_counter() - started,
            )
        return Resolution(
            ok=not conflicts,
            stage="precheck" if conflicts else "resolver",
            conflicts=conflicts,
            lockfile=lockfile,
            packages=[
                {"name": canonicalize_name(name), "version": version}
                for name, version in PIN.findall(lockfile)
            ],
            precheck_seconds=precheck_seconds,
            resolve_seconds=time.perf_counter() - started,
        )


def _named_in(output: str, requirement_sets: dict[str, list[str]]) -> list[Conflict]:
    """The requested packages the resolver's explanation names, with who asks for what."""
    words = {canonicalize_name(word) for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", output)}
    requests: dict[str, list[PackageRequest]] = {}
    for label, texts in requirement_sets.items():
        for text in texts:
            name = python_requirement_parse(text).name
            if name in words:
                requests.setdefault(name, []).append(PackageRequest(label, text))
    reason = "the resolver found no versions satisfying all of these (see resolver_output)"
    return [
        Conflict(package=name, requests=asked, reason=reason)
        for name, asked in sorted(requests.items())
    ]
