"""The supply-chain gate: allow-list, deny-list, size of a set, network, and its version."""

import pytest

from skills.installer.builder import environment_ensure
from skills.models import Environment
from skills.policy import (
    PolicyError,
    PolicyViolation,
    policy_check,
    policy_current,
    policy_network_allowed,
)
from skills.requirements import RequirementError, requirements_normalize


def test_an_accepted_list_has_no_violations():
    assert policy_check("python", ["requests>=2", "six"]) == []
    assert policy_check("node", ["lodash@^4.17.21"]) == []


def test_a_denied_package_is_refused_naming_the_rule(settings):
    settings.ATOM_POLICY_DENY = ["PyYAML"]

    violations = policy_check("python", ["six", "pyyaml>=6"])

    assert violations == [
        PolicyViolation("pyyaml>=6", "deny-list", "'pyyaml>=6': pyyaml is on the deny-list")
    ]


def test_an_allow_list_refuses_everything_else(settings):
    settings.ATOM_POLICY_ALLOW = ["six", "lodash"]

    assert policy_check("python", ["six", "requests"]) == [
        PolicyViolation("requests", "allow-list", "'requests': requests is not on the allow-list")
    ]
    assert policy_check("node", ["lodash@4", "left-pad"]) == [
        PolicyViolation("left-pad", "allow-list", "'left-pad': left-pad is not on the allow-list")
    ]


def test_too_many_requirements_are_refused(settings):
    settings.ATOM_POLICY_MAX_REQUIREMENTS = 2

    violations = policy_check("python", ["six", "iniconfig", "packaging"])

    assert [violation.rule for violation in violations] == ["max-requirements"]
    assert "3 requirements, the policy allows at most 2" in violations[0].message


@pytest.mark.parametrize(
    ("requirement", "reason"),
    [
        ("-e git+https://example.com/x.git", "installer options are not allowed"),
        ("--index-url https://evil.example/simple", "installer options are not allowed"),
        ("--extra-index-url=https://evil.example/simple", "installer options are not allowed"),
        ("--trusted-host evil.example", "installer options are not allowed"),
        ("-r other-requirements.txt", "installer options are not allowed"),
        ("pkg @ https://example.com/pkg.whl", "direct URLs and VCS references are not allowed"),
        ("git+https://example.com/x.git#egg=x", "direct URLs and VCS references are not allowed"),
        ("pkg @ git+ssh://git@example.com/x.git", "direct URLs and VCS references are not allowed"),
        ("https://example.com/pkg-1.0.tar.gz", "direct URLs and VCS references are not allowed"),
        ("./local/package", "local paths are not allowed"),
        ("/opt/wheels/pkg-1.0-py3-none-any.whl", "local paths are not allowed"),
        ("file:pkg", "local paths are not allowed"),
        ("six\n--extra-index-url https://evil.example/simple", "direct URLs and VCS"),
        ("six\n-r /etc/passwd", "is not a valid requirement"),
        ("six>=>1", "is not a valid requirement"),
        ("", "is empty"),
    ],
)
def test_an_invalid_requirement_is_a_violation(requirement: str, reason: str):
    [violation] = policy_check("python", [requirement])

    assert violation.rule == "valid-requirement"
    assert violation.requirement == requirement
    assert reason in violation.message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("requirement", "reason"),
    [
        ("lodash@git+https://github.com/lodash/lodash.git", "is not a semver range"),
        ("lodash@https://example.com/lodash.tgz", "is not a semver range"),
        ("lodash@file:../lodash", "is not a semver range"),
        ("lodash@github:lodash/lodash", "is not a semver range"),
        ("lodash@next", "is not a semver range"),
        # Ranges npm's own semver refuses: a number after an x part, leading zeros, a
        # prerelease on a partial version.
        ("lodash@1.x.3", "is not a semver range"),
        ("lodash@4.02.1", "is not a semver range"),
        ("lodash@4.x-beta", "is not a semver range"),
        ("lodash@4.0.0-01", "is not a semver range"),
        ("--registry=https://evil.example", "installer options are not allowed"),
        ("../lodash", "is not a valid npm package name"),
        ("Lodash@^4", "is not a valid npm package name"),
    ],
)
def test_an_invalid_node_requirement_is_a_violation(requirement: str, reason: str):
    [violation] = policy_check("node", [requirement])

    assert violation.rule == "valid-requirement"
    assert violation.requirement == requirement
    assert reason in violation.message


@pytest.mark.django_db
@pytest.mark.parametrize(
    "requirement",
    [
        "lodash@*",
        "lodash@x.x",
        "lodash@^4.x",
        "lodash@4.17.x",
        "lodash@v4.17.21+build.1",
        "lodash@>= 4.2 <5",
        "lodash@1.2.3 - 2.x",
        "lodash@^4.0.0-beta.x || ~3.10",
        "lodash@latest",
    ],
)
def test_a_range_npm_reads_is_accepted(requirement: str):
    assert policy_check("node", [requirement]) == []


@pytest.mark.django_db
def test_a_refused_set_is_never_installed(settings, envs_dir):
    settings.ATOM_POLICY_DENY = ["six"]

    with pytest.raises(PolicyError) as raised:
        environment_ensure(language="python", requirements=["six"])

    assert [violation.rule for violation in raised.value.violations] == ["deny-list"]
    assert Environment.objects.count() == 0
    assert not envs_dir.exists()


@pytest.mark.django_db
def test_an_invalid_requirement_is_never_installed(envs_dir):
    with pytest.raises(PolicyError) as raised:
        environment_ensure(language="python", requirements=["six", "git+https://x/y.git"])

    assert raised.value.violations[0].requirement == "git+https://x/y.git"
    assert Environment.objects.count() == 0


def test_the_policy_version_changes_with_its_rules(settings):
    before = policy_current().version
    settings.ATOM_POLICY_DENY = ["six"]

    assert policy_current().version != before
    settings.ATOM_POLICY_DENY = []
    assert policy_current().version == before


def test_network_at_run_time_needs_the_policy(settings):
    assert policy_network_allowed(requested=True) is False

    settings.ATOM_POLICY_ALLOW_NETWORK = True

    assert policy_network_allowed(requested=True) is True
    assert policy_network_allowed(requested=False) is False


def test_requirements_are_normalized_for_the_key():
    assert requirements_normalize(
        "python", ["Requests[Socks,security] >=2.0,<3", "six", "SIX", "attrs; python_version>'3'"]
    ) == [
        'attrs; python_version > "3"',
        "requests[security,socks]<3,>=2.0",
        "six",
    ]
    assert requirements_normalize("node", ["lodash", "left-pad@^1.3.0"]) == [
        "left-pad@^1.3.0",
        "lodash@*",
    ]
    with pytest.raises(RequirementError):
        requirements_normalize("python", ["six", "http://x/y"])
