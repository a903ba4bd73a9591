# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "csv-to-json"
# version = "1.0.0"
# category = "data"
# type = "transform"
# description = """Parse CSV text into a list of records keyed by the header row, \
# optionally turning numeric cells into numbers."""
# tags = ["csv", "json", "parse", "records"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["csv"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.csv]
# type = "string"
#
# [tool.atom.inputs.properties.delimiter]
# type = "string"
# minLength = 1
# maxLength = 1
# default = ","
#
# [tool.atom.inputs.properties.convert_numbers]
# type = "boolean"
# default = true
#
# [[tool.atom.examples]]
# input = { csv = "name,age,city\nAda,36,London\nAlan,41,Wilmslow\n" }
# [tool.atom.examples.output]
# columns = ["name", "age", "city"]
# rows = [
#     { name = "Ada", age = 36, city = "London" },
#     { name = "Alan", age = 41, city = "Wilmslow" },
# ]
# ///
import io
from csv import DictReader


def _cell(value: str, convert: bool) -> str | int | float:
    """Return ``value`` as an int or a float when it is one and ``convert`` is set."""
    if convert:
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                continue
    return value


def run(csv: str, delimiter: str = ",", convert_numbers: bool = True) -> dict:
    """Return the header row as ``columns`` and every following row as a dict in ``rows``."""
    reader = DictReader(io.StringIO(csv), delimiter=delimiter)
    rows = [{k: _cell(v, convert_numbers) for k, v in row.items()} for row in reader]
    return {"columns": list(reader.fieldnames or []), "rows": rows}
