# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "croniter>=2",
# ]
#
# [tool.atom]
# name = "cron-next"
# version = "1.0.0"
# category = "time"
# type = "generate"
# description = """Check a cron expression (five fields, or @daily-style aliases) and list its \
# next run times after a given moment."""
# tags = ["cron", "schedule", "crontab", "time"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["expression", "start"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.expression]
# type = "string"
# minLength = 1
#
# [tool.atom.inputs.properties.start]
# type = "string"
# description = "ISO 8601 moment to count from; without an offset it is UTC."
#
# [tool.atom.inputs.properties.count]
# type = "integer"
# minimum = 1
# maximum = 100
# default = 3
#
# [[tool.atom.examples]]
# input = { expression = "30 9 * * mon-fri", start = "2024-03-01T10:00:00Z", count = 3 }
# [tool.atom.examples.output]
# valid = true
# next = ["2024-03-04T09:30:00+00:00", "2024-03-05T09:30:00+00:00", "2024-03-06T09:30:00+00:00"]
#
# [[tool.atom.examples]]
# input = { expression = "61 * * * *", start = "2024-03-01T10:00:00Z" }
# output = { valid = false, next = [] }
# ///
import datetime as dt

from croniter import croniter


def run(expression: str, start: str, count: int = 3) -> dict:
    """Return whether ``expression`` is valid and its next ``count`` run times as ISO strings."""
    if not croniter.is_valid(expression):
        return {"valid": False, "next": []}
    moment = dt.datetime.fromisoformat(start)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    schedule = croniter(expression, moment)
    return {
        "valid": True,
        "next": [schedule.get_next(dt.datetime).isoformat() for _ in range(count)],
    }
