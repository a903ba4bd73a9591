"""/api/openapi.json is valid OpenAPI 3.1 and documents every status each operation answers."""

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

# Operations that count against a rate limit (429) and that need this host's interpreters,
# runners or package index (503).
RATE_LIMITED = {
    ("post", "/api/skills/import"),
    ("post", "/api/skills/{slug}/run"),
    ("post", "/api/installs/"),
    ("post", "/api/installs/batch"),
    ("post", "/api/installs/{job_id}/retry"),
    ("post", "/api/workflows/{slug}/runs"),
}
HOST_BOUND = {
    ("get", "/api/health"),
    ("post", "/api/skills/{slug}/run"),
    ("post", "/api/installs/"),
    ("post", "/api/installs/batch"),
    ("post", "/api/dependencies/resolve"),
}
SECURITY_SCHEMES = {
    "ApiKeyBearer": {"type": "http", "scheme": "bearer"},
    "ApiKeyInHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BasicAuth": {"type": "http", "scheme": "basic"},
    "SessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
}


@pytest.fixture(scope="module")
def spec(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_it_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(spec).validate()


def test_the_four_ways_in_are_declared(spec):
    assert spec["components"]["securitySchemes"] == SECURITY_SCHEMES


def expected_statuses(method: str, path: str, operation: dict) -> set[str]:
    expected = {"405"}  # every path serves some methods only
    secured = bool(operation.get("security"))
    if secured:
        expected.add("401")
        if method != "get":
            expected.add("403")  # a key without the scope
    if "{" in path:
        expected.add("404")
    has_query = any(param["in"] == "query" for param in operation.get("parameters", []))
    if has_query or "requestBody" in operation:
        expected.add("422")
    if "requestBody" in operation:
        expected.add("413")
    if (method, path) in RATE_LIMITED:
        expected.add("429")
    if (method, path) in HOST_BOUND:
        expected.add("503")
    return expected


def test_every_operation_documents_every_status_it_can_answer(spec):
    missing = {
        f"{method.upper()} {path}": sorted(
            expected_statuses(method, path, op) - set(op["responses"])
        )
        for method, path, op in operations(spec)
    }

    assert {name: statuses for name, statuses in missing.items() if statuses} == {}
    assert len(missing) >= 31


def test_every_error_answer_has_the_error_shape(spec):
    schemas = spec["components"]["schemas"]
    wrong = []
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/api/health":
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            properties = schemas[ref.rsplit("/", 1)[-1]]["properties"]
            if not {"detail", "errors"} <= set(properties):
                wrong.append(f"{method.upper()} {path} {status}")

    assert wrong == []


def test_the_challenge_and_retry_after_headers_are_documented(spec):
    run = spec["paths"]["/api/skills/{slug}/run"]["post"]["responses"]

    assert set(run["401"]["headers"]) == {"WWW-Authenticate"}
    assert set(run["429"]["headers"]) == {"Retry-After"}


def test_oversized_bodies_and_other_methods_are_documented_where_they_are_answered(
    spec, client, token_make
):
    agents = spec["paths"]["/api/agents/"]
    detail = spec["paths"]["/api/skills/{slug}"]["get"]["responses"]

    assert "413" in agents["post"]["responses"]
    assert "413" not in agents["get"]["responses"]  # a GET's body is never read
    assert set(detail["405"]["headers"]) == {"Allow"}
    refused = client.put("/api/agents/", data=b"{}", content_type="application/json")
    assert refused.status_code == 405
    allowed = refused["Allow"]
    assert set(allowed.split(", ")) == {"GET", "POST"}
    assert refused.json() == {"detail": f"method PUT is not allowed here; allowed: {allowed}",
                              "errors": []}  # fmt: skip
    too_large = client.post("/api/agents/", data=b'{"slug": "' + b"a" * 3_000_000 + b'"}',
                            content_type="application/json",
                            HTTP_AUTHORIZATION=f"Bearer {token_make('admin')}")  # fmt: skip
    assert too_large.status_code == 413
    assert too_large.json()["errors"] == [
        {"field": "body", "message": "the body is over 2621440 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"}
    ]


def test_reads_open_to_everyone_allow_no_credentials(spec):
    listing = spec["paths"]["/api/skills/"]["get"]
    run = spec["paths"]["/api/skills/{slug}/run"]["post"]

    assert {} in listing["security"]
    assert {} not in run["security"]


def test_lists_document_the_page_shape(spec):
    schemas = spec["components"]["schemas"]
    for path in ("/api/skills/", "/api/agents/", "/api/perf/samples", "/api/marketplace/skills"):
        ok = spec["paths"][path]["get"]["responses"]["200"]
        ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert {"items", "count", "page", "page_size", "pages"} <= set(schemas[ref]["properties"])


def test_no_two_schemas_share_a_component_name(spec):
    """django-ninja names each schema's component after its class and keeps the last one of a
    name: two classes called `ErrorOut` made every operation document the other's shape."""
    from ninja import Schema

    import atom_site.api  # noqa: F401 - every router's schemas imported

    modules = ("atom_site.", "skills.", "perf.", "workflows.")
    names: dict[str, set[str]] = {}
    stack = [Schema]
    while stack:
        for schema in stack.pop().__subclasses__():
            stack.append(schema)
            if (
                schema.__module__.startswith(modules)
                and schema.__name__ in spec["components"]["schemas"]
            ):
                names.setdefault(schema.__name__, set()).add(
                    f"{schema.__module__}.{schema.__qualname__}"
                )

    assert {name: found for name, found in names.items() if len(found) > 1} == {}
    assert set(spec["components"]["schemas"]["ErrorOut"]["properties"]) == {"detail", "errors"}


def test_every_documented_422_admits_a_validation_answer(spec):
    """A request that fails validation answers `errors` of `field` and `message` only: a
    documented 422 whose items require more (an import's `file`, a refusal's `rule`) did not
    describe it (found by the HTTP sweep, tests/atom_site/test_api_sweep.py)."""
    schemas = spec["components"]["schemas"]
    too_strict = {}
    for method, path, operation in operations(spec):
        unprocessable = operation["responses"].get("422")
        if unprocessable is None or path.startswith("/api/workflows"):
            continue
        ref = unprocessable["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        item = schemas[ref]["properties"]["errors"]["items"]["$ref"].rsplit("/", 1)[-1]
        required = set(schemas[item].get("required", []))
        if required - {"field", "message"}:
            too_strict[f"{method.upper()} {path}"] = sorted(required)

    assert too_strict == {}
