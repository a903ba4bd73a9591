# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "requests>=2.31",
# ]
#
# [tool.atom]
# name = "http-get"
# version = "1.0.0"
# category = "web"
# type = "fetch"
# description = """Fetch a URL over HTTP(S) with GET and return the status, final URL, selected \
# headers, elapsed time and the body as text (cut to a size limit) or parsed JSON."""
# tags = ["http", "fetch", "requests", "web"]
# entrypoint = "run"
# timeout = 30
# network = true
#
# [tool.atom.inputs]
# type = "object"
# required = ["url"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.url]
# type = "string"
# pattern = "^https?://"
#
# [tool.atom.inputs.properties.headers]
# type = "object"
# additionalProperties = { type = "string" }
#
# [tool.atom.inputs.properties.max_chars]
# type = "integer"
# minimum = 0
# default = 10000
#
# [tool.atom.inputs.properties.timeout]
# type = "number"
# exclusiveMinimum = 0
# default = 10
#
# [[tool.atom.examples]]
# input = { url = "https://httpbin.org/json" }
# offline = false
# ///
import requests

KEPT_HEADERS = ("content-type", "content-length", "last-modified", "etag", "cache-control")


def run(
    url: str, headers: dict[str, str] | None = None, max_chars: int = 10000, timeout: float = 10
) -> dict:
    """GET ``url`` (following redirects) and describe the response."""
    response = requests.get(url, headers=headers or {}, timeout=timeout)
    is_json = "json" in response.headers.get("content-type", "")
    return {
        "status": response.status_code,
        "ok": response.ok,
        "url": response.url,
        "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 1),
        "headers": {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
        "json": response.json() if is_json else None,
        "text": "" if is_json else response.text[:max_chars],
    }
