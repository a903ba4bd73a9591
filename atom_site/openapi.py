"""What ninja's generated OpenAPI leaves out, added once for every operation.

- Operations open to everyone that show more to a signed-in user (the catalog's reads) list
  the empty security requirement `{}` beside the four ways in: a call may send nothing.
- A 401 documents its `WWW-Authenticate` challenge and a 429 its `Retry-After`.
"""

from typing import Any

from ninja.operation import Operation

HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": 'The challenge: Bearer realm="atom"',
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds until the rate limit's window ends",
            "schema": {"type": "integer"},
        }
    },
}


def allows_anonymous(operation: Operation) -> bool:
    return any(getattr(auth, "allows_anonymous", False) for auth in operation.auth_callbacks or ())


def openapi_complete(schema: dict[str, Any], anonymous_allowed: set[str]) -> dict[str, Any]:
    """Add the headers and optional security above to ninja's `schema` (in place)."""
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            if operation.get("operationId") in anonymous_allowed and {} not in operation.get(
                "security", []
            ):
                operation.setdefault("security", []).append({})
            for status, response in operation.get("responses", {}).items():
                if str(status) in HEADERS:  # ninja keys responses by int
                    response.setdefault("headers", {}).update(HEADERS[str(status)])
    return schema
