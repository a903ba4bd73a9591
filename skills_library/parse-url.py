# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "parse-url"
# version = "1.0.0"
# category = "web"
# type = "extract"
# description = "Split a URL into scheme, host, port, path, query parameters and fragment."
# tags = ["url", "parse", "query-string", "web"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["url"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.url]
# type = "string"
# minLength = 1
#
# [[tool.atom.examples]]
# input = { url = "https://user@example.com:8443/docs/a%20b?q=atom&tag=x&tag=y#top" }
# [tool.atom.examples.output]
# scheme = "https"
# username = "user"
# host = "example.com"
# port = 8443
# path = "/docs/a b"
# query = { q = ["atom"], tag = ["x", "y"] }
# fragment = "top"
# ///
from urllib.parse import parse_qs, unquote, urlsplit


def run(url: str) -> dict:
    """Return the parts of ``url``; the query maps each key to the list of its values."""
    parts = urlsplit(url)
    default_ports = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
    return {
        "scheme": parts.scheme,
        "username": parts.username,
        "host": parts.hostname,
        "port": parts.port or default_ports.get(parts.scheme),
        "path": unquote(parts.path),
        "query": parse_qs(parts.query, keep_blank_values=True),
        "fragment": parts.fragment,
    }
