# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "pandas>=2.1",
# ]
#
# [tool.atom]
# name = "csv-column-stats"
# version = "1.0.0"
# category = "data"
# type = "analyze"
# description = """Profile a CSV table with pandas: per column its type, missing values and \
# distinct values, with mean, std, min and max for numbers and the most common value otherwise."""
# tags = ["csv", "pandas", "profile", "statistics"]
# entrypoint = "run"
# timeout = 60
# memory_mb = 512
#
# [tool.atom.inputs]
# type = "object"
# required = ["csv"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.csv]
# type = "string"
# minLength = 1
#
# [tool.atom.inputs.properties.digits]
# type = "integer"
# minimum = 0
# maximum = 10
# default = 3
#
# [[tool.atom.examples]]
# input = { csv = "city,temp,rain\nParis,21.5,0\nLyon,25,2\nParis,19,\nNice,27.5,0\n" }
# [tool.atom.examples.output]
# rows = 4
# [tool.atom.examples.output.columns]
# city = { kind = "text", missing = 0, distinct = 3, top = "Paris", top_count = 2 }
# [tool.atom.examples.output.columns.temp]
# kind = "number"
# missing = 0
# distinct = 4
# mean = 23.25
# std = 3.753
# min = 19.0
# max = 27.5
# [tool.atom.examples.output.columns.rain]
# kind = "number"
# missing = 1
# distinct = 2
# mean = 0.667
# std = 1.155
# min = 0.0
# max = 2.0
# ///
import io

import pandas as pd


def run(csv: str, digits: int = 3) -> dict:
    """Return the row count and a profile of every column of the CSV text."""
    frame = pd.read_csv(io.StringIO(csv))
    columns = {}
    for name in frame.columns:
        series = frame[name]
        info = {
            "missing": int(series.isna().sum()),
            "distinct": int(series.nunique()),
        }
        if pd.api.types.is_numeric_dtype(series):
            info["kind"] = "number"
            for stat in ("mean", "std", "min", "max"):
                info[stat] = round(float(getattr(series, stat)()), digits)
        else:
            counts = series.value_counts()
            info |= {"kind": "text", "top": str(counts.index[0]), "top_count": int(counts.iloc[0])}
        columns[str(name)] = info
    return {"rows": len(frame), "columns": columns}
