# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "json-to-csv"
# version = "1.0.0"
# category = "data"
# type = "transform"
# description = """Write a list of JSON objects as CSV text; the columns are the given ones or \
# every key in order of first appearance, and missing values stay empty."""
# tags = ["csv", "json", "export", "records"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["rows"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.rows]
# type = "array"
# items = { type = "object" }
#
# [tool.atom.inputs.properties.columns]
# type = "array"
# items = { type = "string" }
#
# [tool.atom.inputs.properties.delimiter]
# type = "string"
# minLength = 1
# maxLength = 1
# default = ","
#
# [[tool.atom.examples]]
# input = { rows = [{ name = "Ada", age = 36 }, { name = "Alan, M.", city = "Wilmslow" }] }
# [tool.atom.examples.output]
# csv = "name,age,city\nAda,36,\n\"Alan, M.\",,Wilmslow\n"
# columns = ["name", "age", "city"]
# ///
import csv
import io
import json


def run(rows: list[dict], columns: list[str] | None = None, delimiter: str = ",") -> dict:
    """Return ``rows`` as CSV text; nested values are written as JSON."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=columns, delimiter=delimiter, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
        )
    return {"csv": out.getvalue(), "columns": columns}
