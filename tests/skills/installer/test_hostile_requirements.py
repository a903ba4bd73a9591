"""Requirement strings from anywhere: each is accepted or refused with a RequirementError (or
PolicyError, naming the requirement and the rule), never an unhandled exception, and quickly.

Property tests over arbitrary text and over almost-valid PEP 508 / npm spellings, then the
crashes the sweep found, one test each (see docs/reliability.md).
"""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skills.installer.resolution import Conflict, conflicts_precheck
from skills.installer.semver import SemverError, range_intervals, ranges_intersect
from skills.policy import Policy, PolicyError, policy_enforce
from skills.requirements import (
    MAX_REQUIREMENT_LENGTH,
    RequirementError,
    node_requirement_parse,
    python_requirement_parse,
    requirement_normalize,
    requirement_parse,
    requirements_normalize,
)

# Everything, lone surrogates, NULs and control characters included.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=300)
SECONDS = 1.0  # far above what any one input takes; a regex gone exponential takes minutes

space = st.sampled_from(["", " ", "  ", "\t", " \n "])
number = st.one_of(
    st.integers(0, 30).map(str),
    st.integers(0, 2**64).map(str),
    st.integers(1, 6000).map(lambda digits: "9" * digits),  # past Python's int() limit
    st.sampled_from(["01", "x", "X", "*", "", "1_0", "١"]),  # Arabic-Indic digit one
)
version = st.builds(
    lambda parts, suffix: ".".join(parts) + suffix,
    st.lists(number, min_size=1, max_size=4),
    st.sampled_from(["", ".*", "a1", "rc2", ".post1", ".dev0", "+local.1", "-beta.1", "-0"]),
)
python_name = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True),
    st.text(max_size=12),
)
python_operator = st.sampled_from(["==", "!=", ">=", "<=", ">", "<", "~=", "===", "=", "=>", ""])
marker_atom = st.builds(
    lambda variable, operator, value: f"{variable} {operator} {value!r}",
    st.sampled_from(["python_version", "os_name", "sys_platform", "extra", "platform_release"]),
    st.sampled_from(["==", "!=", "<", ">=", "~=", "===", "in", "not in"]),
    st.one_of(version, st.text(max_size=8)),
)
marker = st.recursive(
    marker_atom,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        st.builds(lambda a: f"({a})", inner),
    ),
    max_leaves=6,
)
python_requirement = st.builds(
    lambda name, extras, specifiers, nesting, condition: (
        name
        + (f"[{','.join(extras)}]" if extras else "")
        + ",".join(operator + text for operator, text in specifiers)
        + (f"; {'(' * nesting}{condition}{')' * nesting}" if condition else "")
    ),
    python_name,
    st.lists(python_name, max_size=3),
    st.lists(st.tuples(python_operator, version), max_size=4),
    st.one_of(st.integers(0, 3), st.integers(30, 600)),  # parentheses around the marker
    st.one_of(st.none(), marker, marker),
)
npm_operator = st.sampled_from(["", "=", "<", ">", "<=", ">=", "~", "^", "~>", "> ", ">= "])
npm_comparator = st.builds(lambda op, v: op + v, npm_operator, version)
npm_set = st.one_of(
    st.lists(npm_comparator, min_size=1, max_size=4).map(" ".join),
    st.builds(lambda low, high: f"{low} - {high}", version, version),
)
npm_range = st.one_of(
    # One set repeated: the shape that makes an ambiguous regex backtrack exponentially.
    st.builds(
        lambda one, separator, times: separator.join([one] * times),
        npm_set,
        st.sampled_from([" || ", "||", " ||  ", "  "]),
        st.integers(1, 40),
    ),
    st.builds(
        lambda sets, separator: separator.join(sets),
        st.lists(npm_set, min_size=1, max_size=30),
        st.sampled_from([" || ", "||", " ||  ", "  "]),
    ),
    st.sampled_from(["*", "latest", "", "||", "1 ||", "x || x"]),
)
npm_requirement = st.builds(
    lambda name, version_range, ending: f"{name}@{version_range}{ending}",
    st.one_of(
        st.from_regex(r"(@[a-z0-9][a-z0-9._~-]{0,10}/)?[a-z0-9][a-z0-9._~-]{0,20}", fullmatch=True),
        st.text(max_size=10),
    ),
    npm_range,
    st.sampled_from(["", "!", " x", " || !"]),  # a bad ending makes a regex try every split
)


def timed(function, *args):
    started = time.perf_counter()
    try:
        return function(*args)
    finally:
        assert time.perf_counter() - started < SECONDS


def parsed_or_refused(language: str, text: str):
    try:
        return timed(requirement_parse, language, text)
    except RequirementError as error:
        reason = error.reason
    assert reason
    return None


@settings(max_examples=300)
@given(text=ANY_TEXT, language=st.sampled_from(["python", "node"]))
def test_any_text_is_a_requirement_or_a_refusal(text, language):
    parsed_or_refused(language, text)


@settings(max_examples=300)
@given(text=python_requirement)
def test_an_almost_valid_python_requirement_parses_normalizes_or_is_refused(text):
    if parsed_or_refused("python", text) is None:
        return
    normal = timed(requirement_normalize, "python", text)
    # One spelling per requirement: the normal form is its own normal form.
    assert requirement_normalize("python", normal) == normal


@settings(max_examples=300)
@given(text=npm_requirement)
def test_an_almost_valid_npm_requirement_parses_into_intervals_or_is_refused(text):
    parsed = parsed_or_refused("node", text)
    if parsed is None:
        return
    assert requirement_normalize("node", text) == parsed.text
    try:
        intervals = timed(range_intervals, parsed.range)
    except SemverError:
        return  # a spelling the pre-check leaves to npm
    assert all(not interval.is_empty() for interval in intervals)


@settings(max_examples=200)
@given(text=st.one_of(ANY_TEXT, npm_range))
def test_any_npm_range_is_intervals_or_a_semver_error(text):
    try:
        timed(range_intervals, text)
    except SemverError:
        pass


@settings(max_examples=150)
@given(
    language=st.sampled_from(["python", "node"]),
    data=st.data(),
    deny=st.frozensets(st.sampled_from(["numpy", "lodash", "left-pad", "Foo_Bar", ""])),
    allow=st.frozensets(st.sampled_from(["numpy", "lodash", "requests"])),
)
def test_the_policy_accepts_a_list_or_names_each_refusal(language, data, deny, allow):
    requirement = python_requirement if language == "python" else npm_requirement
    texts = data.draw(st.lists(st.one_of(requirement, ANY_TEXT), max_size=8))
    policy = Policy(allow=allow, deny=deny, max_requirements=5, allow_network=False)
    try:
        timed(lambda: policy_enforce(language, texts, policy=policy))
        violations = []
    except PolicyError as error:
        violations = error.violations
    for violation in violations:
        assert violation.rule in {
            "valid-requirement",
            "deny-list",
            "allow-list",
            "max-requirements",
        }
        assert violation.message
    try:
        normal = timed(requirements_normalize, language, texts)
    except RequirementError:
        return
    assert normal == sorted(set(normal))


@settings(max_examples=150)
@given(
    language=st.sampled_from(["python", "node"]),
    data=st.data(),
)
def test_the_conflict_precheck_answers_any_requirement_sets(language, data):
    requirement = python_requirement if language == "python" else npm_requirement
    # Few package names, so sets really meet on the same package.
    name = st.sampled_from(["numpy", "pkg", "a"])
    same_package = (
        st.builds(
            lambda n, rest: n + rest,
            name,
            st.lists(st.tuples(python_operator, version), max_size=3).map(
                lambda s: ",".join(o + v for o, v in s)
            ),
        )
        if language == "python"
        else st.builds(lambda n, r: f"{n}@{r}", name, npm_range)
    )
    sets = data.draw(
        st.dictionaries(
            st.text(max_size=8),
            st.lists(st.one_of(same_package, requirement), max_size=5),
            max_size=4,
        )
    )
    try:
        conflicts = timed(lambda: conflicts_precheck(requirement_sets=sets, language=language))
    except RequirementError:
        return
    assert all(isinstance(conflict, Conflict) and conflict.reason for conflict in conflicts)


# What the sweep found -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "version_range",
    ["1 || " * 40 + "!", "1  " * 40 + "!", ">= 1  || " * 40 + "!"],
)
def test_an_npm_range_that_cannot_match_is_refused_at_once(version_range):
    started = time.perf_counter()
    with pytest.raises(RequirementError, match="is not a semver range"):
        node_requirement_parse(f"lodash@{version_range}")
    # Was exponential: `"1 || " * 22 + "!"` took 2.7 s, and twice that per alternative more.
    assert time.perf_counter() - started < 0.1


def test_npm_ranges_with_spaces_still_parse_as_before():
    for version_range in [
        "^1.2.3",
        ">= 1.2.3 < 2",
        "1.2.3 - 2.3",
        "1.x || >=2.5.0 || 5.0.0 - 7.2.3",
        "~1.2  ||  ^2",
        "> 1",
        "<=  2.0.0-beta.1",
    ]:
        assert node_requirement_parse(f"lodash@{version_range}").range == version_range


def test_a_requirement_longer_than_the_limit_is_refused():
    with pytest.raises(RequirementError) as refused:
        python_requirement_parse("numpy==" + "9" * 5000)
    assert refused.value.reason == f"is longer than {MAX_REQUIREMENT_LENGTH} characters"
    assert len(str(refused.value)) < 200  # the message does not echo the whole input


def test_a_marker_nested_past_the_limit_is_refused_not_a_recursion_error():
    text = "numpy; " + "(" * 400 + "python_version > '3'" + ")" * 400
    with pytest.raises(RequirementError, match="nests parentheses more than 32 deep"):
        python_requirement_parse(text)


def test_a_marker_that_cannot_be_compared_is_refused():
    # It parses, but evaluating it raised UndefinedComparison inside the conflict pre-check.
    with pytest.raises(RequirementError, match="its marker cannot be evaluated"):
        python_requirement_parse('numpy; python_version ~= "1"')
    with pytest.raises(RequirementError, match="its marker cannot be evaluated"):
        conflicts_precheck(requirement_sets={"a": ['numpy; os_name ~= "posix"']})


def test_an_npm_version_number_past_the_safe_integer_is_a_semver_error():
    # int() of 5,000 digits raised ValueError out of the Node conflict pre-check.
    with pytest.raises(SemverError, match="has a number over 9007199254740991"):
        range_intervals("9" * 5000)
    with pytest.raises(SemverError):
        ranges_intersect(["^1", "9007199254740992.0.0"])
    assert (
        conflicts_precheck(
            requirement_sets={"a": ["lodash@" + "9" * 900], "b": ["lodash@^1"]}, language="node"
        )
        == []
    )  # left to npm, as every spelling the interval reading refuses
