# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "tabulate>=0.9",
# ]
#
# [tool.atom]
# name = "table-to-markdown"
# version = "1.0.0"
# category = "data"
# type = "generate"
# description = """Render a list of records as a text table: GitHub Markdown by default, or \
# plain, grid, HTML or other tabulate formats."""
# tags = ["table", "markdown", "tabulate", "report"]
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
# [tool.atom.inputs.properties.format]
# enum = ["github", "pipe", "simple", "grid", "html", "rst"]
# default = "github"
#
# [tool.atom.inputs.properties.columns]
# type = "array"
# items = { type = "string" }
# description = "The columns to show, in order (default: every key in order of appearance)."
#
# [tool.atom.inputs.properties.floatfmt]
# type = "string"
# default = "g"
# description = "Python format spec for floats, such as .2f."
#
# [[tool.atom.examples]]
# input = { rows = [{ skill = "word-count", runs = 120 }, { skill = "csv-to-json", runs = 7 }] }
# [tool.atom.examples.output]
# rows = 2
# table = """| skill       |   runs |
# |-------------|--------|
# | word-count  |    120 |
# | csv-to-json |      7 |"""
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# rows = [{ skill = "word-count", p95_ms = 1.23456, runs = 120 }, { skill = "csv-to-json" }]
# columns = ["skill", "p95_ms"]
# floatfmt = ".1f"
# [tool.atom.examples.output]
# rows = 2
# table = """| skill       |   p95_ms |
# |-------------|----------|
# | word-count  |      1.2 |
# | csv-to-json |          |"""
# ///
from tabulate import tabulate


def run(
    rows: list[dict], format: str = "github", columns: list[str] | None = None, floatfmt: str = "g"
) -> dict:
    """Return ``rows`` as a table in the given tabulate ``format``; numbers align right and
    missing cells stay empty."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[row.get(column) for column in columns] for row in rows]
    table = tabulate(cells, headers=columns, tablefmt=format, floatfmt=floatfmt, missingval="")
    return {"table": table, "rows": len(rows)}
