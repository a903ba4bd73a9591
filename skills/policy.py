"""The supply-chain gate: which packages a skill may ask for, how many, and whether it may use
the network when it runs.

Read from settings (`ATOM_POLICY_*`). The catalog importer calls `policy_check` when it reads a
skill file and the installer calls it again before it builds anything, so a package denied
after a skill was imported is still never installed. The policy's `version` is a hash of its
rules and enters every environment key: changing the rules never reuses an environment that
was built under other rules.
"""

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from packaging.utils import canonicalize_name

from skills.requirements import RequirementError, requirement_parse

RULE_VALID = "valid-requirement"
RULE_DENY = "deny-list"
RULE_ALLOW = "allow-list"
RULE_MAX = "max-requirements"


@dataclass(frozen=True)
class PolicyViolation:
    """One refusal: the requirement at fault (empty for a rule about the whole set), the rule
    that refused it and a sentence for people."""

    requirement: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"requirement": self.requirement, "rule": self.rule, "message": self.message}


class PolicyError(ValueError):
    """Raised by `policy_enforce` with every violation found."""

    def __init__(self, violations: list[PolicyViolation]) -> None:
        super().__init__("; ".join(violation.message for violation in violations))
        self.violations = violations


@dataclass(frozen=True)
class Policy:
    allow: frozenset[str]
    deny: frozenset[str]
    max_requirements: int
    allow_network: bool

    @property
    def version(self) -> str:
        rules = {
            "allow": sorted(self.allow),
            "deny": sorted(self.deny),
            "max_requirements": self.max_requirements,
            "allow_network": self.allow_network,
        }
        return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:16]


def _package_name(language: str, name: str) -> str:
    return name.strip().lower() if language == "node" else canonicalize_name(name.strip())


def policy_current() -> Policy:
    """The policy the settings describe now (read each call, so tests and reloads see changes)."""
    return Policy(
        allow=frozenset(name.strip().lower() for name in settings.ATOM_POLICY_ALLOW if name),
        deny=frozenset(name.strip().lower() for name in settings.ATOM_POLICY_DENY if name),
        max_requirements=settings.ATOM_POLICY_MAX_REQUIREMENTS,
        allow_network=settings.ATOM_POLICY_ALLOW_NETWORK,
    )


def policy_check(
    language: str, requirements: list[str], *, policy: Policy | None = None
) -> list[PolicyViolation]:
    """Every reason the policy refuses this requirement list; empty when it is accepted.

    `language` is "python" or "node". A requirement that does not parse is reported with the
    rule "valid-requirement" (a gate that skipped what it cannot read would let it through).
    List entries in the settings are package names; Python names are compared canonicalized
    (`Foo_Bar` is `foo-bar`), npm names as written (they are lowercase by rule).
    """
    policy = policy or policy_current()
    allow = {_package_name(language, name) for name in policy.allow}
    deny = {_package_name(language, name) for name in policy.deny}
    violations: list[PolicyViolation] = []
    if len(requirements) > policy.max_requirements:
        violations.append(
            PolicyViolation(
                "",
                RULE_MAX,
                f"{len(requirements)} requirements, the policy allows at most "
                f"{policy.max_requirements} per skill (rule {RULE_MAX})",
            )
        )
    for text in requirements:
        try:
            parsed = requirement_parse(language, text)
        except RequirementError as error:
            violations.append(PolicyViolation(text, RULE_VALID, str(error)))
            continue
        name = parsed.name
        if name in deny:
            violations.append(
                PolicyViolation(text, RULE_DENY, f"{text!r}: {name} is on the deny-list")
            )
        elif allow and name not in allow:
            violations.append(
                PolicyViolation(text, RULE_ALLOW, f"{text!r}: {name} is not on the allow-list")
            )
    return violations


def policy_enforce(language: str, requirements: list[str], *, policy: Policy | None = None) -> None:
    """Raise `PolicyError` naming every violation, or return when the list is accepted."""
    violations = policy_check(language, requirements, policy=policy)
    if violations:
        raise PolicyError(violations)


def policy_network_allowed(*, requested: bool, policy: Policy | None = None) -> bool:
    """Whether a skill that asks for the network (`network = true`) may use it at run time."""
    policy = policy or policy_current()
    return requested and policy.allow_network
