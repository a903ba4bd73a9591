"""Validation of a skill's requirement strings, before anything is installed.

Python requirements are PEP 508 strings read with `packaging`; anything that would let a skill
point the installer somewhere else (direct URLs, VCS, local paths, pip/uv options) is refused.
Node requirements are `name@range` with an npm package name and a semver range.
"""

import re
from dataclasses import dataclass

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

OPTION_PREFIXES = ("-",)
PATH_HINTS = ("/", "\\", "./", "../", "~", "file:")
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]{0,213}$")
# npm's semver range grammar: versions with optional x/* parts, operators, caret/tilde,
# hyphen ranges and `||` alternatives. As npm reads them: numbers without leading zeros, no
# number after an x part (`1.x.3` is refused), a prerelease only after a full version.
NPM_NUMBER = r"(?:0|[1-9][0-9]*)"
NPM_X = r"[xX*]"
NPM_PRERELEASE_PART = rf"(?:{NPM_NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
NPM_VERSION = (
    rf"v?(?:{NPM_X}(?:\.{NPM_X}){{0,2}}"
    rf"|{NPM_NUMBER}\.{NPM_NUMBER}\.{NPM_NUMBER}"
    rf"(?:-{NPM_PRERELEASE_PART}(?:\.{NPM_PRERELEASE_PART})*)?"
    rf"|{NPM_NUMBER}(?:\.{NPM_X}(?:\.{NPM_X})?|\.{NPM_NUMBER}(?:\.{NPM_X})?)?)"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
# Spaces may follow an operator only: a comparator that could also start with spaces would let
# `\s+` and `\s*` share the spaces between comparators, and the regex backtrack through every
# split (`"1 || " * 22 + "!"` took 2.7 s, doubling with each alternative).
NPM_COMPARATOR = rf"(?:(?:[<>]=?|=|~|\^)\s*)?{NPM_VERSION}"
NPM_SET = rf"(?:{NPM_VERSION}\s+-\s+{NPM_VERSION}|{NPM_COMPARATOR}(?:\s+{NPM_COMPARATOR})*)"
NPM_RANGE = re.compile(rf"^(?:\*|latest|{NPM_SET}(?:\s*\|\|\s*{NPM_SET})*)$")
# No real requirement comes near it; past it, work grows with the text (packaging's marker
# parser recurses per parenthesis, a version's numbers become ints).
MAX_REQUIREMENT_LENGTH = 1000
MAX_PARENTHESES_DEPTH = 32


class RequirementError(ValueError):
    """A requirement string that Atom will not install, with the reason."""

    def __init__(self, requirement: str, reason: str) -> None:
        super().__init__(f"{requirement!r}: {reason}")
        self.requirement = requirement
        self.reason = reason


@dataclass(frozen=True)
class PythonRequirement:
    name: str
    text: str
    requirement: Requirement


@dataclass(frozen=True)
class NodeRequirement:
    name: str
    range: str

    @property
    def text(self) -> str:
        return f"{self.name}@{self.range}"


def _length_check(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise RequirementError(text, "is empty")
    if len(stripped) > MAX_REQUIREMENT_LENGTH:
        raise RequirementError(
            text[:80] + "…", f"is longer than {MAX_REQUIREMENT_LENGTH} characters"
        )
    return stripped


def _parentheses_depth(text: str) -> int:
    depth = deepest = 0
    for character in text:
        if character == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif character == ")":
            depth -= 1
    return deepest


def python_requirement_parse(text: str) -> PythonRequirement:
    stripped = _length_check(text)
    if _parentheses_depth(stripped) > MAX_PARENTHESES_DEPTH:
        # packaging's marker parser recurses once per parenthesis: a RecursionError otherwise.
        raise RequirementError(text, f"nests parentheses more than {MAX_PARENTHESES_DEPTH} deep")
    if stripped.startswith(OPTION_PREFIXES):
        raise RequirementError(text, "installer options are not allowed")
    if stripped.startswith(VCS_PREFIXES) or "://" in stripped.split(";")[0]:
        raise RequirementError(text, "direct URLs and VCS references are not allowed")
    if stripped.startswith(PATH_HINTS):
        raise RequirementError(text, "local paths are not allowed")
    try:
        requirement = Requirement(stripped)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]
        raise RequirementError(text, f"is not a valid requirement ({reason})") from None
    if requirement.url:
        raise RequirementError(text, "direct URLs and VCS references are not allowed")
    if requirement.marker is not None:
        # It parses, yet comparing can still fail (`python_version ~= "1"`): refused here, not
        # where the conflict pre-check evaluates it.
        try:
            requirement.marker.evaluate()
        except (UndefinedComparison, UndefinedEnvironmentName) as error:
            raise RequirementError(text, f"its marker cannot be evaluated ({error})") from None
    return PythonRequirement(canonicalize_name(requirement.name), str(requirement), requirement)


def node_requirement_parse(text: str) -> NodeRequirement:
    stripped = _length_check(text)
    if stripped.startswith(OPTION_PREFIXES):
        raise RequirementError(text, "installer options are not allowed")
    at = stripped.find("@", 1)
    name, version_range = (stripped, "*") if at == -1 else (stripped[:at], stripped[at + 1 :])
    if not NPM_NAME.match(name):
        raise RequirementError(text, f"{name!r} is not a valid npm package name")
    version_range = version_range.strip() or "*"
    if not NPM_RANGE.match(version_range):
        raise RequirementError(
            text, f"{version_range!r} is not a semver range (URLs, paths and tags are refused)"
        )
    return NodeRequirement(name, version_range)


def requirement_parse(language: str, text: str) -> PythonRequirement | NodeRequirement:
    if language == "node":
        return node_requirement_parse(text)
    return python_requirement_parse(text)


def requirement_normalize(language: str, text: str) -> str:
    """One spelling per requirement, so equal sets hash equal.

    Python: the canonical name, sorted extras, the specifiers sorted (as `packaging` prints a
    `SpecifierSet`) and the marker as `packaging` prints it. Node: `name@range`.
    """
    parsed = requirement_parse(language, text)
    if isinstance(parsed, NodeRequirement):
        return parsed.text
    requirement = parsed.requirement
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in requirement.extras))}]"
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return f"{parsed.name}{extras if requirement.extras else ''}{requirement.specifier}{marker}"


def requirements_normalize(language: str, texts: list[str]) -> list[str]:
    """The sorted, de-duplicated normal forms of a list (raises on the first bad one)."""
    return sorted({requirement_normalize(language, text) for text in texts})
