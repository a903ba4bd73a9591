# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "tzdata>=2024.1",
# ]
#
# [tool.atom]
# name = "convert-timezone"
# version = "1.0.0"
# category = "time"
# type = "transform"
# description = """Show one moment in several IANA time zones (Europe/Paris, America/New_York, \
# ...), with each zone's UTC offset and whether daylight saving time is in force."""
# tags = ["timezone", "iana", "dst", "time"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["datetime", "to_zones"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.datetime]
# type = "string"
# description = "ISO 8601; without an offset it is read in from_zone."
#
# [tool.atom.inputs.properties.from_zone]
# type = "string"
# default = "UTC"
#
# [tool.atom.inputs.properties.to_zones]
# type = "array"
# minItems = 1
# items = { type = "string" }
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# datetime = "2024-07-01T09:00"
# from_zone = "Europe/Paris"
# to_zones = ["UTC", "Europe/London", "Asia/Kolkata"]
# [tool.atom.examples.output]
# utc = "2024-07-01T07:00:00+00:00"
# times = [
#   { zone = "UTC", local = "2024-07-01T07:00:00+00:00", offset = "+00:00", dst = false },
#   { zone = "Europe/London", local = "2024-07-01T08:00:00+01:00", offset = "+01:00", dst = true },
#   { zone = "Asia/Kolkata", local = "2024-07-01T12:30:00+05:30", offset = "+05:30", dst = false },
# ]
# ///
import datetime as dt
from zoneinfo import ZoneInfo


def run(datetime: str, to_zones: list[str], from_zone: str = "UTC") -> dict:
    """Return the moment ``datetime`` in UTC and in each of ``to_zones``."""
    moment = dt.datetime.fromisoformat(datetime)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(from_zone))
    times = []
    for zone in to_zones:
        local = moment.astimezone(ZoneInfo(zone))
        times.append(
            {
                "zone": zone,
                "local": local.isoformat(),
                "offset": local.strftime("%:z"),
                "dst": bool(local.dst()),
            }
        )
    return {"utc": moment.astimezone(dt.UTC).isoformat(), "times": times}
