"""Resolving skills together: the in-memory pre-check, the resolver, conflicts as data."""

import pytest
from django.contrib.auth import get_user_model

from skills.installer.resolution import PackageRequest, conflicts_precheck
from skills.models import Environment
from tests.skills.installer.test_install_jobs import skill_add


def conflicted(sets: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    return {
        conflict.package: [(request.skill, request.specifier) for request in conflict.requests]
        for conflict in conflicts_precheck(requirement_sets=sets)
    }


@pytest.mark.parametrize(
    "sets",
    [
        {"a": ["six==1.16.0"], "b": ["Six==1.15.0"]},
        {"a": ["six==1.16.0"], "b": ["six!=1.16.0"]},
        {"a": ["six>=1.16"], "b": ["six<1.10"]},
        {"a": ["six>1.16"], "b": ["six<=1.16"]},
        {"a": ["six~=1.15.0"], "b": ["six>=1.16"]},
        {"a": ["six==1.*"], "b": ["six>=2"]},
        {"a": ["six==1.16.0"], "b": ["six~=1.14.0"]},
    ],
)
def test_the_precheck_finds_contradicting_specifiers(sets: dict[str, list[str]]):
    assert conflicted(sets) == {"six": [("a", sets["a"][0]), ("b", sets["b"][0])]}


@pytest.mark.parametrize(
    "sets",
    [
        {"a": ["six>=1.10"], "b": ["six<2", "iniconfig"]},
        {"a": ["six==1.16.0"], "b": ["six>=1.16,<1.17"]},
        {"a": ["six>=1.16"], "b": ["six<=1.16"]},
        {"a": ["six==1.0; python_version < '3'"], "b": ["six==1.16.0"]},
        {"a": ["six~=1.16"], "b": ["six==1.*"]},
    ],
)
def test_the_precheck_passes_compatible_specifiers(sets: dict[str, list[str]]):
    assert conflicted(sets) == {}


def test_the_precheck_names_every_skill_asking_for_the_package():
    [conflict] = conflicts_precheck(
        requirement_sets={"a": ["six>=1.16"], "b": ["six"], "c": ["six<1.5"], "d": ["iniconfig"]}
    )

    assert conflict.package == "six"
    assert conflict.requests == [
        PackageRequest("a", "six>=1.16"),
        PackageRequest("b", "six"),
        PackageRequest("c", "six<1.5"),
    ]
    assert conflict.reason == "six>=1.16 (a) and six<1.5 (c) leave no version"


@pytest.fixture
def api(client, db):
    user = get_user_model().objects.create_user("client", password="pw-12345678")
    client.force_login(user)
    return client


def resolve(api, body: dict):
    return api.post("/api/dependencies/resolve", body, content_type="application/json")


def test_compatible_skills_resolve_to_hashed_pins(api, envs_dir):
    skill_add("alpha", ["six>=1.10"])
    skill_add("beta", ["six<2", "iniconfig"])

    response = resolve(api, {"skills": ["alpha", "beta"]})

    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["stage"], body["conflicts"]) == (True, "resolver", [])
    assert sorted(pin["name"] for pin in body["packages"]) == ["iniconfig", "six"]
    assert "--hash=sha256:" in body["lockfile"]
    assert Environment.objects.count() == 0


def test_a_direct_conflict_is_a_409_from_the_precheck(api, envs_dir):
    skill_add("alpha", ["six==1.16.0"])
    skill_add("beta", ["six<1.10", "iniconfig"])

    response = resolve(api, {"skills": ["alpha", "beta"]})

    assert response.status_code == 409
    body = response.json()
    assert (body["ok"], body["stage"], body["resolver_output"]) == (False, "precheck", "")
    assert body["conflicts"] == [
        {
            "package": "six",
            "requests": [
                {"skill": "alpha", "specifier": "six==1.16.0"},
                {"skill": "beta", "specifier": "six<1.10"},
            ],
            "reason": "six==1.16.0 (alpha) is excluded by six<1.10",
        }
    ]


def test_explain_adds_the_resolvers_own_words_to_a_precheck_conflict(api, envs_dir):
    response = resolve(
        api, {"requirements": {"a": ["six==1.16.0"], "b": ["six<1.10"]}, "explain": True}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["stage"] == "precheck"
    assert "No solution found" in body["resolver_output"]
    assert [conflict["package"] for conflict in body["conflicts"]] == ["six"]


def test_a_transitive_conflict_is_a_409_from_the_resolver_kept_verbatim(api, envs_dir):
    # requests 2.31.0 needs urllib3>=1.21.1: no single package is contradicted directly.
    response = resolve(
        api, {"requirements": {"fetch": ["requests==2.31.0"], "legacy": ["urllib3<1.21"]}}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["stage"] == "resolver"
    assert "No solution found" in body["resolver_output"]
    assert "requests==2.31.0 depends on urllib3" in body["resolver_output"]
    assert body["conflicts"] == [
        {
            "package": "requests",
            "requests": [{"skill": "fetch", "specifier": "requests==2.31.0"}],
            "reason": "the resolver found no versions satisfying all of these "
            "(see resolver_output)",
        },
        {
            "package": "urllib3",
            "requests": [{"skill": "legacy", "specifier": "urllib3<1.21"}],
            "reason": "the resolver found no versions satisfying all of these "
            "(see resolver_output)",
        },
    ]


def test_invalid_or_denied_requirements_are_422(api, settings):
    invalid = resolve(api, {"requirements": {"a": ["six", "--extra-index-url=http://x"]}})
    settings.ATOM_POLICY_DENY = ["six"]
    denied = resolve(api, {"requirements": {"a": ["six"]}})
    both = resolve(api, {"requirements": {"a": ["six"]}, "skills": ["a"]})

    assert invalid.status_code == 422
    assert invalid.json()["problems"][0]["requirement"] == "--extra-index-url=http://x"
    assert denied.status_code == 422
    assert denied.json()["problems"][0]["rule"] == "deny-list"
    assert both.status_code == 422
