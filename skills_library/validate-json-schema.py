# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "jsonschema>=4.18",
# ]
#
# [tool.atom]
# name = "validate-json-schema"
# version = "1.0.0"
# category = "dev"
# type = "validate"
# description = """Validate a JSON document against a JSON Schema (draft 2020-12 unless the schema \
# says otherwise) and list every error with the path where it occurs."""
# tags = ["json-schema", "validate", "json", "dev"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["instance", "schema"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.instance]
# description = "The JSON document to check (any JSON value)."
#
# [tool.atom.inputs.properties.schema]
# type = "object"
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# instance = { name = "", port = 80000, tags = ["a", 1] }
# [tool.atom.examples.input.schema]
# type = "object"
# required = ["name", "port", "owner"]
# properties.name = { type = "string", minLength = 1 }
# properties.port = { type = "integer", maximum = 65535 }
# properties.tags = { type = "array", items = { type = "string" } }
# [tool.atom.examples.output]
# valid = false
# errors = [
#     { path = "$", message = "'owner' is a required property" },
#     { path = "$.name", message = "'' should be non-empty" },
#     { path = "$.port", message = "80000 is greater than the maximum of 65535" },
#     { path = "$.tags[1]", message = "1 is not of type 'string'" },
# ]
# ///
from jsonschema import validators


def run(instance: object, schema: dict) -> dict:
    """Return whether ``instance`` is valid and its errors, sorted by path."""
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(
        validator_class(schema).iter_errors(instance),
        key=lambda e: [str(part) for part in e.absolute_path],
    )
    return {
        "valid": not errors,
        "errors": [{"path": e.json_path, "message": e.message} for e in errors],
    }
