# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "unix-time"
# version = "1.0.0"
# category = "time"
# type = "transform"
# description = """Convert between Unix timestamps (seconds or milliseconds, guessed from the \
# size) and ISO 8601 date-times in UTC, either way."""
# tags = ["unix", "timestamp", "epoch", "iso8601", "time"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["value"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.value]
# type = ["number", "string"]
# description = "A timestamp, or an ISO 8601 date-time (UTC when it has no offset)."
#
# [[tool.atom.examples]]
# input = { value = 1700000000 }
# output = { unix = 1700000000, unix_ms = 1700000000000, iso_utc = "2023-11-14T22:13:20+00:00" }
#
# [[tool.atom.examples]]
# input = { value = "2024-02-29T12:00:00+01:00" }
# output = { unix = 1709204400, unix_ms = 1709204400000, iso_utc = "2024-02-29T11:00:00+00:00" }
# ///
import datetime as dt


def run(value: float | str) -> dict:
    """Return the moment ``value`` as seconds, milliseconds and an ISO string in UTC."""
    if isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    else:
        seconds = value / 1000 if abs(value) >= 1e11 else value  # 1e11 s is the year 5138
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    unix = moment.timestamp()
    return {
        "unix": int(unix) if unix.is_integer() else unix,
        "unix_ms": round(unix * 1000),
        "iso_utc": moment.astimezone(dt.UTC).isoformat(),
    }
