"""npm semver ranges as version intervals, for the Node conflict pre-check.

A range (`^1.2.3`, `~1.2`, `1.x`, `>=1.0.0 <2`, `1.2.3 - 2.3`, `a || b`, `*`) becomes a union of
intervals, following node-semver's desugaring. Several skills' ranges for one package intersect
to the empty set exactly when no version can satisfy them all, so the pre-check reports a
conflict without asking the registry. Prerelease filtering (npm ignores prereleases outside a
comparator naming one) is deliberately left out: it only shrinks a range, so without it the
pre-check never reports a conflict npm would not also find.
"""

import functools
import re
from dataclasses import dataclass

PART = r"(?:[0-9]+|[xX*])"
VERSION = re.compile(
    rf"^v?({PART})(?:\.({PART}))?(?:\.({PART}))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
COMPARATOR = re.compile(r"^(<=|>=|<|>|=|~>|~|\^)?\s*(.+)$")
HYPHEN = re.compile(r"^(\S+)\s+-\s+(\S+)$")
MAX_SAFE_INTEGER = 2**53 - 1  # node-semver refuses a version number above it

# A version's sort key: release parts, then a release after all of its prereleases.
Key = tuple[int, int, int, int, tuple]


class SemverError(ValueError):
    pass


def _prerelease_key(prerelease: str | None) -> tuple[int, tuple]:
    if prerelease is None:
        return (1, ())
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split(".")
    )
    return (0, parts)


def version_key(major: int, minor: int, patch: int, prerelease: str | None = None) -> Key:
    flag, parts = _prerelease_key(prerelease)
    return (major, minor, patch, flag, parts)


def _lowest(major: int, minor: int, patch: int) -> Key:
    """Below every prerelease of major.minor.patch (node-semver's `-0`)."""
    return (major, minor, patch, 0, ())


@dataclass(frozen=True)
class Bound:
    key: Key
    inclusive: bool


@dataclass(frozen=True)
class Interval:
    low: Bound | None  # None: unbounded
    high: Bound | None

    def is_empty(self) -> bool:
        if self.high is None:
            return False
        low = self.low or LOWEST  # so that `<0.0.0-0` (`<*`, `>x`) is empty too
        if low.key != self.high.key:
            return low.key > self.high.key
        return not (low.inclusive and self.high.inclusive)

    def intersect(self, other: "Interval") -> "Interval":
        return Interval(_max_low(self.low, other.low), _min_high(self.high, other.high))

    def as_range(self) -> str:
        """The interval as an npm comparator set."""
        parts = []
        if self.low is not None:
            parts.append((">=" if self.low.inclusive else ">") + _key_text(self.low.key))
        if self.high is not None:
            parts.append(("<=" if self.high.inclusive else "<") + _key_text(self.high.key))
        return " ".join(parts) or "*"


EVERYTHING = Interval(None, None)
LOWEST = Bound(_lowest(0, 0, 0), True)  # below every version


def _key_text(key: Key) -> str:
    major, minor, patch, flag, parts = key
    text = f"{major}.{minor}.{patch}"
    if flag == 0:
        text += "-" + (".".join(str(p[1]) if p[0] == 0 else p[2] for p in parts) or "0")
    return text


def _max_low(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None or b is None:
        return a or b
    if a.key != b.key:
        return a if a.key > b.key else b
    return a if not a.inclusive else b


def _min_high(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None or b is None:
        return a or b
    if a.key != b.key:
        return a if a.key < b.key else b
    return a if not a.inclusive else b


def _parse_version(text: str) -> tuple[list[int | None], str | None]:
    """[major, minor, patch] with None for a missing or wildcard part, and the prerelease."""
    match = VERSION.match(text.strip())
    if match is None:
        raise SemverError(f"{text!r} is not a version")
    parts: list[int | None] = []
    for part in match.groups()[:3]:
        if part is not None and len(part) > 16:
            # Before int(): past 4,300 digits Python refuses the conversion with a ValueError.
            raise SemverError(f"{text!r} has a number over {MAX_SAFE_INTEGER}")
        number = None if part is None or part in "xX*" else int(part)
        if number is not None and number > MAX_SAFE_INTEGER:
            raise SemverError(f"{text!r} has a number over {MAX_SAFE_INTEGER}")
        parts.append(number)
    # A wildcard makes every later part a wildcard too (1.x.3 is 1.x).
    for index, part in enumerate(parts):
        if part is None:
            parts[index + 1 :] = [None] * (2 - index)
            break
    return parts, match.group(4)


def _x_range(parts: list[int | None]) -> Interval:
    major, minor, _ = parts
    if major is None:
        return EVERYTHING
    if minor is None:
        return Interval(
            Bound(version_key(major, 0, 0), True), Bound(_lowest(major + 1, 0, 0), False)
        )
    return Interval(
        Bound(version_key(major, minor, 0), True), Bound(_lowest(major, minor + 1, 0), False)
    )


def _comparator(text: str) -> Interval:
    match = COMPARATOR.match(text.strip())
    operator, version = match.group(1) or "", match.group(2)
    parts, prerelease = _parse_version(version)
    major, minor, patch = parts
    complete = patch is not None
    exact = version_key(major or 0, minor or 0, patch or 0, prerelease) if complete else None
    if operator in ("", "="):
        return Interval(Bound(exact, True), Bound(exact, True)) if complete else _x_range(parts)
    if operator in ("~", "~>"):
        if major is None:
            return EVERYTHING
        low = exact or version_key(major, minor or 0, 0)
        high = _lowest(major, minor + 1, 0) if minor is not None else _lowest(major + 1, 0, 0)
        return Interval(Bound(low, True), Bound(high, False))
    if operator == "^":
        if major is None:
            return EVERYTHING
        low = exact or version_key(major, minor or 0, 0)
        if major > 0 or minor is None:
            high = _lowest(major + 1, 0, 0)
        elif minor > 0 or patch is None:
            high = _lowest(0, minor + 1, 0)
        else:
            high = _lowest(0, 0, patch + 1)
        return Interval(Bound(low, True), Bound(high, False))
    if major is None:  # >*, <=x, …: any version for >= and <=, none for > and <
        return (
            EVERYTHING
            if operator in (">=", "<=")
            else Interval(None, Bound(_lowest(0, 0, 0), False))
        )
    if complete:
        if operator == ">=":
            return Interval(Bound(exact, True), None)
        if operator == ">":
            return Interval(Bound(exact, False), None)
        if operator == "<=":
            return Interval(None, Bound(exact, True))
        return Interval(None, Bound(exact, False))
    # Partial versions: >1.2 is >=1.3.0, <=1.2 is <1.3.0-0, >=1.2 is >=1.2.0, <1.2 is <1.2.0-0.
    span = _x_range(parts)
    if operator == ">":
        return Interval(Bound(version_key(*span.high.key[:3]), True), None)
    if operator == ">=":
        return Interval(span.low, None)
    if operator == "<=":
        return Interval(None, span.high)
    return Interval(None, Bound(_lowest(*span.low.key[:3]), False))


def _hyphen(low_text: str, high_text: str) -> Interval:
    # A partial upper end is an X-range's top: 1.2.3 - 2.3 is <2.4.0-0, as "<=2.3" reads.
    low = _comparator(">=" + low_text) if _parse_version(low_text)[0][0] is not None else EVERYTHING
    high = (
        _comparator("<=" + high_text) if _parse_version(high_text)[0][0] is not None else EVERYTHING
    )
    return low.intersect(high)


def _comparator_set(text: str) -> Interval:
    text = text.strip()
    hyphen = HYPHEN.match(text)
    if hyphen:
        return _hyphen(hyphen.group(1), hyphen.group(2))
    # "> = 1.2" spellings: operators separated from their version by spaces join it.
    tokens = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", text).split()
    interval = EVERYTHING
    for token in tokens or ["*"]:
        interval = interval.intersect(_comparator(token))
    return interval


@functools.lru_cache(maxsize=8192)
def range_intervals(text: str) -> tuple[Interval, ...]:
    """The versions an npm range admits, as non-empty intervals (empty tuple: none)."""
    text = text.strip()
    if text in ("", "*", "latest", "x", "X"):
        return (EVERYTHING,)
    intervals = (_comparator_set(part) for part in text.split("||"))
    return tuple(interval for interval in intervals if not interval.is_empty())


def ranges_intersect(ranges: list[str]) -> tuple[Interval, ...]:
    """The versions every one of `ranges` admits (empty tuple: no version can)."""
    common: tuple[Interval, ...] = (EVERYTHING,)
    for text in ranges:
        common = tuple(
            joined
            for mine in common
            for theirs in range_intervals(text)
            if not (joined := mine.intersect(theirs)).is_empty()
        )
        if not common:
            break
    return common


NOTHING = "<0.0.0-0"  # a range no version satisfies


def intervals_as_range(intervals: tuple[Interval, ...]) -> str:
    """An npm range admitting exactly these intervals (for a package.json)."""
    return " || ".join(interval.as_range() for interval in intervals) or NOTHING
