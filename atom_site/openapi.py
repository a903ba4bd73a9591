"""What ninja's generated OpenAPI leaves out, added once for every operation.

- Operations open to everyone that show more to a signed-in user (the catalog's reads) list
  the empty security requirement `{}` beside the four ways in: a call may send nothing.
- A 401 documents its `WWW-Authenticate` challenge and a 429 its `Retry-After`.
- The two answers the layer around every operation gives, not the operation itself: a 413 on
  each operation that reads a body (over `DATA_UPLOAD_MAX_MEMORY_SIZE`; a body sent to one
  that reads none is never read), and a 405 with `Allow` on every operation (each path serves
  some methods only; a method it does not serve is answered there, in the error shape).
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
    "405": {
        "Allow": {
            "description": "The methods this path serves, comma-separated",
            "schema": {"type": "string"},
        }
    },
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
LAYER_ANSWERS = {
    405: "Method Not Allowed: the path does not serve the method sent (`Allow` has those it does)",
    413: "Content Too Large: the body is over DATA_UPLOAD_MAX_MEMORY_SIZE",
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
            _layer_answers_add(operation)
            for status, response in operation.get("responses", {}).items():
                if str(status) in HEADERS:  # ninja keys responses by int
                    response.setdefault("headers", {}).update(HEADERS[str(status)])
    return schema


def _layer_answers_add(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    statuses = [405, 413] if "requestBody" in operation else [405]
    for status in statuses:
        if status not in responses and str(status) not in responses:
            responses[status] = {"description": LAYER_ANSWERS[status], "content": ERROR_CONTENT}
