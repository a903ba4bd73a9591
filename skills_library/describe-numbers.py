# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "describe-numbers"
# version = "1.0.0"
# category = "math"
# type = "analyze"
# description = """Descriptive statistics of a list of numbers: count, sum, mean, median, mode, \
# standard deviation, min, max and quartiles."""
# tags = ["statistics", "mean", "median", "quartiles", "math"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["numbers"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.numbers]
# type = "array"
# minItems = 1
# items = { type = "number" }
#
# [tool.atom.inputs.properties.digits]
# type = "integer"
# minimum = 0
# maximum = 15
# default = 4
# description = "Round the results to this many decimal places."
#
# [[tool.atom.examples]]
# input = { numbers = [2, 4, 4, 4, 5, 5, 7, 9] }
# [tool.atom.examples.output]
# count = 8
# sum = 40
# mean = 5.0
# median = 4.5
# mode = 4
# stdev = 2.1381
# pstdev = 2.0
# min = 2
# max = 9
# quartiles = [4.0, 4.5, 6.5]
# ///
import statistics


def run(numbers: list[float], digits: int = 4) -> dict:
    """Return summary statistics of ``numbers``, rounded to ``digits`` places."""

    def r(value: float) -> float:
        return round(value, digits)

    many = len(numbers) > 1
    return {
        "count": len(numbers),
        "sum": sum(numbers),
        "mean": r(statistics.fmean(numbers)),
        "median": r(statistics.median(numbers)),
        "mode": statistics.mode(numbers),
        "stdev": r(statistics.stdev(numbers)) if many else 0.0,
        "pstdev": r(statistics.pstdev(numbers)),
        "min": min(numbers),
        "max": max(numbers),
        "quartiles": [r(q) for q in statistics.quantiles(numbers, n=4)] if many else [],
    }
