# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "flatten-json"
# version = "1.0.0"
# category = "data"
# type = "transform"
# description = """Flatten nested JSON objects and lists into one level of dotted keys \
# (user.address.city, tags.0), or rebuild the nesting from such keys."""
# tags = ["json", "flatten", "nested", "keys"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["data"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.data]
# type = "object"
#
# [tool.atom.inputs.properties.separator]
# type = "string"
# minLength = 1
# default = "."
#
# [tool.atom.inputs.properties.unflatten]
# type = "boolean"
# default = false
#
# [[tool.atom.examples]]
# input = { data = { user = { name = "ada", langs = ["en", "fr"] }, active = true } }
# [tool.atom.examples.output.data]
# "user.name" = "ada"
# "user.langs.0" = "en"
# "user.langs.1" = "fr"
# active = true
#
# [[tool.atom.examples]]
# input = { data = { "a.b" = 1, "a.c" = 2, d = 3 }, unflatten = true }
# output = { data = { a = { b = 1, c = 2 }, d = 3 } }
# ///
from typing import Any


def _flatten(value: Any, prefix: str, sep: str, out: dict) -> dict:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        path = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(child, dict | list) and child:
            _flatten(child, path, sep, out)
        else:
            out[path] = child
    return out


def run(data: dict, separator: str = ".", unflatten: bool = False) -> dict:
    """Return ``data`` flattened to one level, or nested again when ``unflatten`` is set."""
    if not unflatten:
        return {"data": _flatten(data, "", separator, {})}
    nested: dict = {}
    for path, value in data.items():
        node = nested
        *parents, last = path.split(separator)
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return {"data": nested}
