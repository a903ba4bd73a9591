# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "build-query-string"
# version = "1.0.0"
# category = "web"
# type = "generate"
# description = """Build a correctly encoded URL from a base URL and parameters: lists repeat \
# the key, booleans become true/false, null values are left out, existing parameters are kept."""
# tags = ["url", "query-string", "encode", "web"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["params"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.params]
# type = "object"
#
# [tool.atom.inputs.properties.base_url]
# type = "string"
# default = ""
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# base_url = "https://example.com/search?lang=en"
# params = { q = "café & bar", tag = ["a", "b"], exact = true, page = 2 }
# [tool.atom.examples.output]
# query = "lang=en&q=caf%C3%A9+%26+bar&tag=a&tag=b&exact=true&page=2"
# url = "https://example.com/search?lang=en&q=caf%C3%A9+%26+bar&tag=a&tag=b&exact=true&page=2"
# ///
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def run(params: dict, base_url: str = "") -> dict:
    """Return the encoded query string and the full URL built on ``base_url``."""
    parts = urlsplit(base_url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((key, _text(v)) for v in values if v is not None)
    query = urlencode(pairs)
    return {"query": query, "url": urlunsplit(parts._replace(query=query))}
