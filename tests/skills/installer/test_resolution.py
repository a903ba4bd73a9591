"""Resolving skills together: the in-memory pre-check, the resolver, conflicts as data."""

import json

import pytest
from django.contrib.auth import get_user_model

from skills.installer.resolution import PackageRequest, conflicts_precheck
from skills.installer.semver import intervals_as_range, ranges_intersect
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
    assert (body["language"], body["languages"]) == ("python", [])
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
            "language": "python",
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
            "language": "python",
            "requests": [{"skill": "fetch", "specifier": "requests==2.31.0"}],
            "reason": "the resolver found no versions satisfying all of these "
            "(see resolver_output)",
        },
        {
            "package": "urllib3",
            "language": "python",
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
    assert invalid.json()["errors"][0]["requirement"] == "--extra-index-url=http://x"
    assert denied.status_code == 422
    assert denied.json()["errors"][0]["rule"] == "deny-list"
    assert both.status_code == 422


# Node ----------------------------------------------------------------------------------------


def node_conflicted(sets: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    return {
        conflict.package: [(request.skill, request.specifier) for request in conflict.requests]
        for conflict in conflicts_precheck(requirement_sets=sets, language="node")
    }


@pytest.mark.parametrize(
    "sets",
    [
        {"a": ["lodash@^4.17.0"], "b": ["lodash@^3.10.0"]},
        {"a": ["lodash@4.17.21"], "b": ["lodash@<4.17.21"]},
        {"a": ["lodash@~4.16.0"], "b": ["lodash@>=4.17"]},
        {"a": ["lodash@4.x"], "b": ["lodash@>4"]},
        {"a": ["lodash@^0.2.3"], "b": ["lodash@0.3.0"]},
        {"a": ["lodash@1.0.0 - 2.3"], "b": ["lodash@>=2.4.0"]},
        {"a": ["lodash@^1.0.0 || ^3.0.0"], "b": ["lodash@2.x"]},
        {"a": ["@types/node@>=20 <21"], "b": ["@types/node@^22.1.0"]},
        {"a": ["lodash@>*"], "b": ["lodash@<x"]},
    ],
)
def test_the_node_precheck_finds_ranges_with_no_common_version(sets: dict[str, list[str]]):
    [package] = {text.rsplit("@", 1)[0] for text in sets["a"]}
    assert node_conflicted(sets) == {package: [("a", sets["a"][0]), ("b", sets["b"][0])]}


@pytest.mark.parametrize(
    "sets",
    [
        {"a": ["lodash@^4.17.0"], "b": ["lodash@~4.17.21", "left-pad"]},
        {"a": ["lodash"], "b": ["lodash@4.17.21"]},
        {"a": ["lodash@^1.0.0 || ^4.0.0"], "b": ["lodash@>=4.17 <5"]},
        {"a": ["lodash@1.2.3 - 2.3"], "b": ["lodash@2.3.9"]},
        {"a": ["lodash@*"], "b": ["lodash@latest"]},
    ],
)
def test_the_node_precheck_passes_ranges_with_a_common_version(sets: dict[str, list[str]]):
    assert node_conflicted(sets) == {}


@pytest.mark.parametrize(
    ("ranges", "written"),
    [
        (["~1.2", ">=1.2.3"], ">=1.2.3 <1.3.0-0"),
        (["1.x", ">1.2"], ">=1.3.0 <2.0.0-0"),
        (["^0.2", "<=0.2"], ">=0.2.0 <0.3.0-0"),
        (["^1 || ^3", ">=2"], ">=3.0.0 <4.0.0-0"),
    ],
)
def test_several_ranges_for_a_package_are_written_as_npm_reads_them(
    ranges: list[str], written: str
):
    # Lower ends are releases (as npm desugars `~1.2` to >=1.2.0), so the intersection opens
    # no window for prereleases that none of the ranges admits.
    assert intervals_as_range(ranges_intersect(ranges)) == written


def test_the_node_precheck_says_which_two_skills_disagree():
    [conflict] = conflicts_precheck(
        requirement_sets={"a": ["lodash@^4"], "b": ["lodash"], "c": ["lodash@<4"]},
        language="node",
    )

    assert conflict.language == "node"
    assert conflict.reason == "lodash@^4 (a) and lodash@<4 (c) admit no common version"
    assert [request.skill for request in conflict.requests] == ["a", "b", "c"]


def test_compatible_node_skills_resolve_to_a_package_lock(api, envs_dir):
    skill_add("left", ["is-number@^7.0.0"], language="node")
    skill_add("right", ["is-number@>=6", "is-odd@^3.0.1"], language="node")

    response = resolve(api, {"skills": ["left", "right"]})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["ok"], body["stage"], body["language"]) == (True, "resolver", "node")
    lock = json.loads(body["lockfile"])
    assert lock["packages"][""]["dependencies"] == {
        "is-number": ">=7.0.0 <8.0.0-0",
        "is-odd": "^3.0.1",
    }
    assert lock["packages"]["node_modules/is-number"]["version"] == "7.0.0"
    assert {"name": "is-number", "version": "7.0.0", "language": "node"} in body["packages"]
    assert Environment.objects.count() == 0


def test_a_direct_node_conflict_is_a_409_from_the_precheck(api, envs_dir):
    skill_add("left", ["is-number@^7.0.0"], language="node")
    skill_add("right", ["is-number@^6.0.0"], language="node")

    response = resolve(api, {"skills": ["left", "right"]})

    assert response.status_code == 409
    body = response.json()
    assert (body["stage"], body["resolver_output"]) == ("precheck", "")
    assert body["conflicts"] == [
        {
            "package": "is-number",
            "language": "node",
            "requests": [
                {"skill": "left", "specifier": "is-number@^7.0.0"},
                {"skill": "right", "specifier": "is-number@^6.0.0"},
            ],
            "reason": "is-number@^7.0.0 (left) and is-number@^6.0.0 (right) "
            "admit no common version",
        }
    ]


def test_a_range_no_published_version_meets_is_a_409_from_npm_kept_verbatim(api, envs_dir):
    # is-number has 7.0.0 and nothing after it in 7.x: the ranges meet, the registry does not.
    response = resolve(
        api, {"node_requirements": {"left": ["is-number@^7.0.0"], "right": ["is-number@>=7.0.1"]}}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["stage"] == "resolver"
    assert "No matching version found for is-number@>=7.0.1 <8.0.0-0" in body["resolver_output"]
    assert body["conflicts"] == [
        {
            "package": "is-number",
            "language": "node",
            "requests": [
                {"skill": "left", "specifier": "is-number@^7.0.0"},
                {"skill": "right", "specifier": "is-number@>=7.0.1"},
            ],
            "reason": "the resolver found no versions satisfying all of these "
            "(see resolver_output)",
        }
    ]


def test_a_peer_dependency_conflict_is_a_409_with_npms_explanation(api, envs_dir):
    # ajv-keywords 5 wants ajv ^8 as a peer: no package is contradicted directly.
    response = resolve(
        api, {"node_requirements": {"schema": ["ajv@^6.12.0"], "rules": ["ajv-keywords@^5.1.0"]}}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["stage"] == "resolver"
    assert "ERESOLVE unable to resolve dependency tree" in body["resolver_output"]
    assert 'peer ajv@"^8.8.2" from ajv-keywords@5.1.0' in body["resolver_output"]
    assert [(c["package"], c["requests"][0]["skill"]) for c in body["conflicts"]] == [
        ("ajv", "schema"),
        ("ajv-keywords", "rules"),
    ]


def test_a_mixed_set_resolves_each_language_apart(api, envs_dir):
    skill_add("py", ["six>=1.10"])
    skill_add("js-a", ["is-number@^7.0.0"], language="node")
    skill_add("js-b", ["is-number@^6.0.0"], language="node")

    response = resolve(api, {"skills": ["py", "js-a", "js-b"]})

    assert response.status_code == 409
    body = response.json()
    assert (body["ok"], body["language"], body["stage"]) == (False, "mixed", "precheck")
    python, node = body["languages"]
    assert (python["language"], python["ok"], python["stage"]) == ("python", True, "resolver")
    assert "six==" in python["lockfile"]
    assert (node["language"], node["ok"]) == ("node", False)
    assert [conflict["package"] for conflict in body["conflicts"]] == ["is-number"]
    assert {pin["language"] for pin in body["packages"]} == {"python"}


def test_invalid_node_requirements_are_422_naming_them(api):
    response = resolve(
        api, {"node_requirements": {"a": ["is-number@git+https://example.com/x.git"]}}
    )

    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert (problem["skill"], problem["rule"]) == ("a", "valid-requirement")
    assert problem["requirement"] == "is-number@git+https://example.com/x.git"
