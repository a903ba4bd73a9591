# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "pyyaml>=6",
# ]
#
# [tool.atom]
# name = "yaml-to-json"
# version = "1.0.0"
# category = "data"
# type = "transform"
# description = """Parse YAML (safely: no custom tags) into JSON data; dates become ISO strings \
# and a stream of several documents becomes a list."""
# tags = ["yaml", "json", "parse", "config"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["yaml"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.yaml]
# type = "string"
#
# [[tool.atom.examples]]
# input = { yaml = "name: atom\nreleased: 2024-03-01\nports: [8000, 8001]\ndebug: no\n" }
# [tool.atom.examples.output]
# documents = 1
# data = { name = "atom", released = "2024-03-01", ports = [8000, 8001], debug = false }
#
# [[tool.atom.examples]]
# input = { yaml = "a: 1\n---\nb: 2\n" }
# output = { documents = 2, data = [{ a = 1 }, { b = 2 }] }
# ///
import datetime as dt
import json

import yaml as yamllib


def _default(value: object) -> str:
    """Encode what JSON lacks: dates as ISO strings, anything else as its text."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def run(yaml: str) -> dict:
    """Return the parsed YAML as ``data`` (a list when there are several documents)."""
    documents = list(yamllib.safe_load_all(yaml))
    data = documents[0] if len(documents) == 1 else documents
    return {"documents": len(documents), "data": json.loads(json.dumps(data, default=_default))}
