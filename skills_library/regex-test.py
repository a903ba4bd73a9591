# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "regex-test"
# version = "1.0.0"
# category = "dev"
# type = "utility"
# description = """Try a regular expression on a text: every match with its position, numbered \
# and named groups, plus the text with matches replaced when a replacement is given."""
# tags = ["regex", "regular-expression", "match", "dev"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["pattern", "text"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.pattern]
# type = "string"
# minLength = 1
#
# [tool.atom.inputs.properties.text]
# type = "string"
#
# [tool.atom.inputs.properties.flags]
# type = "array"
# items = { enum = ["ignorecase", "multiline", "dotall", "verbose"] }
# default = []
#
# [tool.atom.inputs.properties.replacement]
# type = "string"
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# pattern = '(?P<key>\w+)=(\d+)'
# text = "a=1, bb=22; C=x"
# replacement = '\g<key>:\2'
# [tool.atom.examples.output]
# count = 2
# replaced = "a:1, bb:22; C=x"
# matches = [
#     { match = "a=1", start = 0, end = 3, groups = ["a", "1"], named = { key = "a" } },
#     { match = "bb=22", start = 5, end = 10, groups = ["bb", "22"], named = { key = "bb" } },
# ]
# ///
import re

FLAGS = {
    "ignorecase": re.IGNORECASE,
    "multiline": re.MULTILINE,
    "dotall": re.DOTALL,
    "verbose": re.VERBOSE,
}


def run(
    pattern: str, text: str, flags: list[str] | None = None, replacement: str | None = None
) -> dict:
    """Return the matches of ``pattern`` in ``text`` (and the replaced text if asked)."""
    compiled = re.compile(pattern, sum(FLAGS[f] for f in flags or []))
    matches = [
        {
            "match": m.group(0),
            "start": m.start(),
            "end": m.end(),
            "groups": list(m.groups()),
            "named": m.groupdict(),
        }
        for m in compiled.finditer(text)
    ]
    result: dict = {"count": len(matches), "matches": matches}
    if replacement is not None:
        result["replaced"] = compiled.sub(replacement, text)
    return result
