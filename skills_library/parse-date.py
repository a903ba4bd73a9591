# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "python-dateutil>=2.8",
# ]
#
# [tool.atom]
# name = "parse-date"
# version = "1.0.0"
# category = "time"
# type = "extract"
# description = """Parse a free-form date or date-time ("3 March 2024 5pm", "2024-03-03T17:00Z", \
# "03/04/2024") into ISO 8601 and its parts."""
# tags = ["date", "parse", "iso8601", "time"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["text"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.text]
# type = "string"
# minLength = 1
#
# [tool.atom.inputs.properties.dayfirst]
# type = "boolean"
# default = false
# description = "Read 03/04/2024 as 3 April rather than 4 March."
#
# [[tool.atom.examples]]
# input = { text = "Sunday, 3 March 2024 at 5:30pm" }
# [tool.atom.examples.output]
# iso = "2024-03-03T17:30:00"
# date = "2024-03-03"
# time = "17:30:00"
# weekday = "Sunday"
# utc_offset = ""
#
# [[tool.atom.examples]]
# input = { text = "03/04/2024 09:15 +02:00", dayfirst = true }
# [tool.atom.examples.output]
# iso = "2024-04-03T09:15:00+02:00"
# date = "2024-04-03"
# time = "09:15:00"
# weekday = "Wednesday"
# utc_offset = "+02:00"
# ///
from dateutil import parser


def run(text: str, dayfirst: bool = False) -> dict:
    """Return ``text`` as an ISO 8601 string plus its date, time, weekday and UTC offset."""
    moment = parser.parse(text, dayfirst=dayfirst, fuzzy=True)
    return {
        "iso": moment.isoformat(),
        "date": moment.date().isoformat(),
        "time": moment.time().isoformat(),
        "weekday": moment.strftime("%A"),
        "utc_offset": moment.strftime("%:z"),
    }
