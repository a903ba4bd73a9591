"""The bad-input sweep over HTTP: schemathesis generates requests from /api/openapi.json and
sends them to a real server (uvicorn, as `make up` runs it) holding a small demo catalog, with
a key holding every scope, a key holding none, and no credentials. Every answer must be no 5xx,
a status the operation documents, in the content type and schema it documents.

Bounded and deterministic: derandomized generation, a few examples per operation, no shrinking
(the failing example is reported as schemathesis made it, with a curl line to repeat it), and
pytest-timeout as the hard budget. docs/reliability.md says how to run it and what it found.
"""

import re
from collections.abc import Callable, Iterator

import pytest
import requests
import schemathesis
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from atom_site.keys import SCOPES, api_key_create
from skills.catalog.importer import skills_import, sources_from_paths
from skills.models import Agent, AgentSkill, Skill
from tests.conftest import ROOT, environment_for_processes
from tests.processes import web_server

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# not_a_server_error runs on every answer but a 503 the operation documents (health while a
# check fails, a run or install whose interpreter does not start here): that 503 is the answer.
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 6
# Without credentials or scopes most operations refuse before reading the request, so fewer
# examples reach as far; the public reads still answer them in full.
EXAMPLES_PER_REFUSING_OPERATION = 3
REQUEST_TIMEOUT = 20  # seconds: a request that hangs fails its example instead of the run
# The credentials the OpenAPI declares (atom_site/auth.py).
CREDENTIALS = {"Authorization", "X-API-Key", "sessionid"}

# Operations whose accepted requests cannot be undone within a test: they build environments
# from the package index (installs) or ask it to resolve arbitrary requirements. They get only
# requests that break their schema, which must be refused (4xx) before anything is done.
REFUSED_ONLY = {
    ("POST", "/api/installs/"),
    ("POST", "/api/installs/batch"),
    ("POST", "/api/installs/{job_id}/retry"),
    ("POST", "/api/dependencies/resolve"),
}
# The demo catalog: small skills with no packages, so nothing here reaches the package index.
DEMO_SKILLS = ("change-case", "convert-units", "slugify-text")
DEMO_AGENT = "helpdesk"


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """The web server on a free port, against this session's test database; its base URL."""
    log = tmp_path_factory.mktemp("web") / "web.log"
    with web_server(environment_for_processes(), log) as host:
        yield f"http://{host}"


@pytest.fixture
def catalog(transactional_db) -> dict[str, str]:
    """A few skills (the last one left unapproved) and an agent mapped to the first."""
    paths = [ROOT / "skills_library" / f"{slug}.py" for slug in DEMO_SKILLS]
    sources, errors = sources_from_paths(paths)
    assert errors == []
    skills_import(sources=sources[:-1], approve=True)
    skills_import(sources=sources[-1:])
    skill = Skill.objects.select_related("current_version").get(slug=DEMO_SKILLS[0])
    agent = Agent.objects.create(slug=DEMO_AGENT, name="Helpdesk")
    AgentSkill.objects.create(agent=agent, skill=skill)
    return {"slug": skill.slug, "version": skill.current_version.version}


@pytest.fixture
def credentials(transactional_db) -> Callable[[str], dict[str, str]]:
    """The headers of each way the sweep signs in."""

    def headers(kind: str) -> dict[str, str]:
        if kind == "no credentials":
            return {}
        staff = get_user_model().objects.create_user(
            f"sweep-{kind.replace(' ', '-')}", is_staff=True
        )
        # A key with no scope cannot be made through the domain (it refuses one): make a
        # read key and take its scopes away, as an admin editing the row could.
        key, token = api_key_create(owner=staff, name=kind, scopes=SCOPES)
        if kind == "key with no scopes":
            key.scopes = []
            key.save(update_fields=["scopes"])
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.mark.timeout(150)
@pytest.mark.parametrize("kind", ["key with every scope", "key with no scopes", "no credentials"])
def test_every_operation_answers_as_it_documents(kind, server, catalog, credentials):
    schema = schemathesis.openapi.from_url(f"{server}/api/openapi.json")
    headers = credentials(kind)
    session = requests.Session()
    failures: dict[str, str] = {}
    swept = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        refused_only = (operation.method.upper(), operation.path) in REFUSED_ONLY
        modes = [GenerationMode.NEGATIVE]
        if not refused_only:
            modes.insert(0, GenerationMode.POSITIVE)
        # Random path parameters mostly find nothing (404); the demo's own reach the 200s.
        pinned = _known_path_parameters(operation.path, catalog)
        for mode in modes:
            for path_parameters in ({}, pinned) if pinned else ({},):
                label = f"{operation.label} {mode.value} {sorted(path_parameters)}"
                problem = _sweep(
                    operation,
                    mode=mode,
                    path_parameters=path_parameters,
                    headers=headers,
                    session=session,
                    refused_only=refused_only,
                    examples=EXAMPLES_PER_OPERATION
                    if kind == "key with every scope"
                    else EXAMPLES_PER_REFUSING_OPERATION,
                )
                swept += 1
                if problem:
                    failures[label] = problem

    if failures:
        pytest.fail(
            f"{len(failures)} of {swept} sweeps failed:\n\n"
            + "\n\n".join(f"{label}:\n{problem}" for label, problem in failures.items())
        )
    assert swept >= 40


def _sweep(operation, *, mode, path_parameters, headers, session, refused_only, examples) -> str:
    """Run one operation's examples; the first failure's report, or ''."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def sweep(case) -> None:
        response = case.call(session=session, headers=headers, timeout=REQUEST_TIMEOUT)
        documented_503 = response.status_code == 503 and "503" in operation.definition.raw.get(
            "responses", {}
        )
        checks = CHECKS if documented_503 else [not_a_server_error, *CHECKS]
        case.validate_response(response, checks=checks, headers=headers)
        if refused_only and not (headers and _broken_only_in_credentials(case)):
            assert 400 <= response.status_code < 500, (
                f"{case.method} {case.formatted_path} took a request that breaks its schema:"
                f" {response.status_code}\n{case.as_curl_command(headers=headers)}"
            )

    try:
        sweep()
    except Unsatisfiable:
        return ""  # nothing breaks this operation's schema where the mode looked (a bare path)
    except (Exception, BaseExceptionGroup) as failure:  # each operation's report is collected
        return _one_line_per_problem(str(failure))
    return ""


def _broken_only_in_credentials(case) -> bool:
    """Whether schemathesis broke only a credential (a malformed `Authorization`, `X-API-Key`
    or session cookie): the sweep sends its own key over the generated `Authorization`, and a
    valid key is used before the other credentials are looked at, so the request is whole."""
    mutations = getattr(case.meta.phase.data, "mutations", None)
    return bool(mutations) and all(mutation.parameter in CREDENTIALS for mutation in mutations)


def _one_line_per_problem(report: str) -> str:
    # schemathesis' report is long (a curl line, the body); the test's failure keeps it whole,
    # minus the blank lines.
    return re.sub(r"\n\s*\n", "\n", report).strip()


def _known_path_parameters(path: str, catalog: dict[str, str]) -> dict[str, str]:
    names = set(re.findall(r"{(\w+)}", path))
    known = {}
    if "slug" in names:
        known["slug"] = DEMO_AGENT if path.startswith("/api/agents/") else catalog["slug"]
    if "version" in names:
        known["version"] = catalog["version"]
    return known


# Large and hostile requests, beside the generated ones: each must be a 4xx in the one error
# shape. No timing is asserted: `REQUEST_TIMEOUT` bounds each, pytest-timeout the whole.
NESTED = "[" * 10_000 + "]" * 10_000
HOSTILE = [
    ("10 MB body", "POST", "/api/agents/", b'{"slug": "' + b"a" * 10_000_000 + b'"}', None),
    ("JSON nested 10,000 deep", "POST", "/api/agents/", NESTED.encode(), None),
    (
        "JSON nested 10,000 deep in a field",
        "POST",
        "/api/skills/change-case/run",
        ('{"params": {"text": ' + NESTED + "}}").encode(),
        None,
    ),
    (
        "a lone surrogate in a slug",
        "POST",
        "/api/agents/",
        b'{"slug": "a\\ud800", "name": "x"}',
        None,
    ),
    (
        "a right-to-left mark in a slug",
        "POST",
        "/api/agents/",
        '{"slug": "a\u200fb", "name": "x"}'.encode(),
        None,
    ),
    ("NUL in a slug", "POST", "/api/agents/", b'{"slug": "a\\u0000b", "name": "x"}', None),
    ("NUL in a name", "POST", "/api/agents/", b'{"slug": "ab", "name": "a\\u0000b"}', None),
    ("NUL in a path slug", "GET", "/api/skills/a%00b", None, None),
    ("a lone surrogate in a path slug", "GET", "/api/skills/a%ED%A0%80b", None, None),
    ("a right-to-left mark in a path slug", "GET", "/api/agents/a%E2%80%8Fb", None, None),
    ("NUL in a filter", "GET", "/api/skills/?category=a%00b", None, None),
    ("NUL in export's slugs", "GET", "/api/skills/export?slug=a%00b", None, None),
    ("NUL in a query", "GET", "/api/marketplace/skills", None, {"q": "pan\x00das"}),
    ("a body that is not UTF-8", "POST", "/api/agents/", b'{"slug": "\xff\xfe"}', None),
]


# Free text and filters are normalized, not refused (docs/reliability.md: a query's token of
# non-word characters becomes a phrase of its words; a filter nothing matches is an empty
# page): these must answer in JSON, never a 5xx.
NORMALIZED = [
    ("a lone surrogate in a query", "GET", "/api/marketplace/skills?q=pan%ED%A0%80das", None, None),
    ("a lone surrogate in a filter", "GET", "/api/skills/?tag=a%ED%A0%80", None, None),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [pytest.param(*request, id=name) for name, *request in NORMALIZED],
)
def test_a_hostile_query_is_normalized(method, path, body, query, server, catalog, credentials):
    response = requests.request(
        method, f"{server}{path}", params=query, headers=credentials("no credentials"), timeout=60
    )

    assert response.status_code < 500, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    assert "items" in response.json() or "detail" in response.json()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [pytest.param(*request, id=name) for name, *request in HOSTILE],
)
def test_a_hostile_request_is_a_clear_4xx(method, path, body, query, server, catalog, credentials):
    headers = {**credentials("key with every scope"), "Content-Type": "application/json"}

    response = requests.request(
        method, f"{server}{path}", data=body, params=query, headers=headers, timeout=60
    )

    assert 400 <= response.status_code < 500, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    answer = response.json()
    assert set(answer) >= {"detail", "errors"}, answer
    assert isinstance(answer["detail"], str)
    assert answer["detail"]


@pytest.mark.timeout(120)
def test_a_multipart_body_of_no_part_is_a_422_naming_files_over_http(server, catalog, credentials):
    headers = {
        **credentials("key with every scope"),
        "Content-Type": "multipart/form-data; boundary=b",
    }

    response = requests.post(
        f"{server}/api/skills/import", data=b"--b--\r\n", headers=headers, timeout=60
    )

    assert response.status_code == 422, response.text[:500]
    assert [error["field"] for error in response.json()["errors"]] == ["files"]
