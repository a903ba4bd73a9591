"""Resolving several skills' requirements together, with conflicts reported as data.

Python and Node requirements are resolved apart (a mixed set of skills gives one resolution per
language). First a pre-check in memory: per package, every specifier the skills ask for is
intersected (PEP 440 specifiers with `packaging`: pins against pins and ranges, lower bounds
against upper bounds; npm ranges as version intervals, `skills.installer.semver`), which finds the
direct contradictions without a resolver run. What passes goes to the real resolver (uv, or npm),
which also sees what the pre-check cannot (transitive conflicts, peer dependencies, a range no
published version falls in); its explanation is kept verbatim and the packages it names are
reported with the skills that ask for them.
"""

import functools
import json
import re
import time
from dataclasses import asdict, dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import Specifier
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from perf.recording import measure_performance
from skills.installer.backends import IndexUnreachableError, ResolutionError, backend_get
from skills.installer.builder import spec_for
from skills.installer.keys import environment_spec
from skills.installer.semver import SemverError, ranges_intersect
from skills.operations import DEPENDENCY_RESOLUTION
from skills.policy import PolicyError, policy_current
from skills.requirements import (
    NodeRequirement,
    RequirementError,
    node_requirement_parse,
    python_requirement_parse,
)

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
NPM_WORD = re.compile(r"@?[a-z0-9][a-z0-9._~-]*(?:/[a-z0-9][a-z0-9._~-]*)?", re.IGNORECASE)
PYTHON_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LANGUAGES = ("python", "node")
RESOLVER = {"python": "uv", "node": "npm"}


@dataclass(frozen=True)
class PackageRequest:
    skill: str
    specifier: str  # the requirement as the skill wrote it


@dataclass
class Conflict:
    package: str
    requests: list[PackageRequest]
    reason: str
    language: str = "python"


@dataclass
class Resolution:
    """The answer for one language, or (`language` "mixed") for several, whose own answers
    are in `languages`."""

    ok: bool
    stage: str  # "precheck" or "resolver"
    language: str = "python"
    conflicts: list[Conflict] = field(default_factory=list)
    resolver_output: str = ""
    lockfile: str = ""  # uv's hashed requirements, or npm's package-lock.json
    packages: list[dict[str, str]] = field(default_factory=list)
    precheck_seconds: float = 0.0
    resolve_seconds: float = 0.0
    languages: list["Resolution"] = field(default_factory=list)

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


def conflicts_precheck(
    *, requirement_sets: dict[str, list[str]], language: str = "python"
) -> list[Conflict]:
    """Direct contradictions between the skills' specifiers for the same package.

    `requirement_sets` maps a label (a skill slug, a workflow step) to its requirement strings
    in one language. Python requirements whose marker excludes this interpreter are left out.
    """
    if language == "node":
        return _node_conflicts(requirement_sets)
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


@functools.lru_cache(maxsize=8192)
def _node_parsed(text: str) -> NodeRequirement:
    return node_requirement_parse(text)


def _node_conflicts(requirement_sets: dict[str, list[str]]) -> list[Conflict]:
    wanted: dict[str, list[tuple[PackageRequest, str]]] = {}
    for label, texts in requirement_sets.items():
        for text in texts:
            parsed = _node_parsed(text)
            wanted.setdefault(parsed.name, []).append((PackageRequest(label, text), parsed.range))
    conflicts = []
    for package, entries in sorted(wanted.items()):
        if len(entries) < 2:
            continue
        try:
            if ranges_intersect([version for _, version in entries]):
                continue
            # Pairs may read ranges the intersection above stopped short of.
            reason = _node_reason(entries)
        except SemverError:
            continue  # a spelling the interval reading does not know: npm will judge it
        conflicts.append(
            Conflict(
                package=package,
                requests=[request for request, _ in entries],
                reason=reason,
                language="node",
            )
        )
    return conflicts


def _node_reason(entries: list[tuple[PackageRequest, str]]) -> str:
    for index, (first, first_range) in enumerate(entries):
        for second, second_range in entries[index + 1 :]:
            if not ranges_intersect([first_range, second_range]):
                return (
                    f"{first.specifier} ({first.skill}) and {second.specifier} "
                    f"({second.skill}) admit no common version"
                )
    asked = ", ".join(f"{request.specifier} ({request.skill})" for request, _ in entries)
    return f"no version satisfies all of {asked}"


def _problems(requirement_sets: dict[str, list[str]], language: str) -> list[dict[str, str]]:
    problems = []
    for label, texts in requirement_sets.items():
        try:
            spec_for(language=language, requirements=texts)
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
    *,
    requirement_sets: dict[str, list[str]] | None = None,
    node_requirement_sets: dict[str, list[str]] | None = None,
    explain: bool = False,
) -> Resolution:
    """Resolve every set of a language together: the pre-check, then uv (Python) or npm (Node).

    `requirement_sets` are Python, `node_requirement_sets` Node; each language is resolved
    apart. Raises `ResolutionRefused` for invalid or policy-refused requirements (nothing is
    resolved then), and `IndexUnreachableError` when an index or registry cannot be reached.
    With `explain`, a pre-check conflict still goes to the resolver for its own explanation.
    """
    by_language = {
        language: sets
        for language, sets in zip(LANGUAGES, (requirement_sets, node_requirement_sets), strict=True)
        if sets
    }
    if not by_language:
        by_language = {"python": {}}
    problems = [
        problem for language, sets in by_language.items() for problem in _problems(sets, language)
    ]
    if problems:
        raise ResolutionRefused(problems)
    answers = [
        _language_resolve(language=language, requirement_sets=sets, explain=explain)
        for language, sets in by_language.items()
    ]
    if len(answers) == 1:
        return answers[0]
    return _combined(answers)


def _combined(answers: list[Resolution]) -> Resolution:
    failed = [answer for answer in answers if not answer.ok]
    return Resolution(
        ok=not failed,
        stage=failed[0].stage if failed else "resolver",
        language="mixed",
        conflicts=[conflict for answer in answers for conflict in answer.conflicts],
        resolver_output="\n".join(
            answer.resolver_output for answer in failed if answer.resolver_output
        ),
        packages=[package for answer in answers for package in answer.packages],
        precheck_seconds=sum(answer.precheck_seconds for answer in answers),
        resolve_seconds=sum(answer.resolve_seconds for answer in answers),
        languages=answers,
    )


def _language_resolve(
    *, language: str, requirement_sets: dict[str, list[str]], explain: bool
) -> Resolution:
    with measure_performance(DEPENDENCY_RESOLUTION, sets=len(requirement_sets), language=language):
        started = time.perf_counter()
        conflicts = conflicts_precheck(requirement_sets=requirement_sets, language=language)
        precheck_seconds = time.perf_counter() - started
        if conflicts and not explain:
            return Resolution(
                ok=False,
                stage="precheck",
                language=language,
                conflicts=conflicts,
                precheck_seconds=precheck_seconds,
            )
        combined = [text for texts in requirement_sets.values() for text in texts]
        if not combined:
            return Resolution(ok=True, stage="precheck", language=language)
        # Each set passed the policy on its own; the union is only resolved, never installed.
        spec = environment_spec(
            language=language,
            requirements=combined,
            policy_version=policy_current().version,
            backend=RESOLVER[language],
        )
        started = time.perf_counter()
        try:
            lockfile = backend_get(RESOLVER[language]).resolve(spec=spec, log=lambda line: None)
        except IndexUnreachableError:
            raise
        except ResolutionError as error:
            return Resolution(
                ok=False,
                stage="precheck" if conflicts else "resolver",
                language=language,
                conflicts=conflicts or _named_in(error.output, requirement_sets, language),
                resolver_output=error.output,
                precheck_seconds=precheck_seconds,
                resolve_seconds=time.perf_counter() - started,
            )
        return Resolution(
            ok=not conflicts,
            stage="precheck" if conflicts else "resolver",
            language=language,
            conflicts=conflicts,
            lockfile=lockfile,
            packages=_pins(lockfile, language),
            precheck_seconds=precheck_seconds,
            resolve_seconds=time.perf_counter() - started,
        )


def _pins(lockfile: str, language: str) -> list[dict[str, str]]:
    if language == "python":
        return [
            {"name": canonicalize_name(name), "version": version, "language": language}
            for name, version in PIN.findall(lockfile)
        ]
    packages = json.loads(lockfile).get("packages", {})
    return [
        {
            "name": path.rsplit("node_modules/", 1)[1],
            "version": entry["version"],
            "language": language,
        }
        for path, entry in sorted(packages.items())
        if path and "version" in entry
    ]


def _requested_name(text: str, language: str) -> str:
    if language == "node":
        return _node_parsed(text).name
    return python_requirement_parse(text).name


def _named_in(output: str, requirement_sets: dict[str, list[str]], language: str) -> list[Conflict]:
    """The requested packages the resolver's explanation names, with who asks for what."""
    if language == "node":
        words = set()
        for word in NPM_WORD.findall(output.lower()):
            words.add(word)
            words.update(word.split("/")[1:])  # …/registry.npmjs.org/<name> in a 404
    else:
        words = {canonicalize_name(word) for word in PYTHON_WORD.findall(output)}
    requests: dict[str, list[PackageRequest]] = {}
    for label, texts in requirement_sets.items():
        for text in texts:
            name = _requested_name(text, language)
            if name in words:
                requests.setdefault(name, []).append(PackageRequest(label, text))
    reason = "the resolver found no versions satisfying all of these (see resolver_output)"
    return [
        Conflict(package=name, requests=asked, reason=reason, language=language)
        for name, asked in sorted(requests.items())
    ]
