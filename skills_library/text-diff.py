# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "text-diff"
# version = "1.0.0"
# category = "text"
# type = "analyze"
# description = """Compare two texts line by line: a unified diff, the lines added and removed, \
# and a similarity ratio between 0 and 1."""
# tags = ["diff", "compare", "similarity", "text"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["before", "after"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.before]
# type = "string"
#
# [tool.atom.inputs.properties.after]
# type = "string"
#
# [tool.atom.inputs.properties.context]
# type = "integer"
# minimum = 0
# default = 1
# description = "Unchanged lines shown around each change."
#
# [[tool.atom.examples]]
# input = { before = "one\ntwo\nthree\nfour\n", after = "one\n2\nthree\nfour\nfive\n" }
# [tool.atom.examples.output]
# diff = """--- before
# +++ after
# @@ -1,4 +1,5 @@
#  one
# -two
# +2
#  three
#  four
# +five
# """
# added = 2
# removed = 1
# similarity = 0.6667
# ///
import difflib


def run(before: str, after: str, context: int = 1) -> dict:
    """Return the unified diff of ``before`` → ``after`` with counts and a similarity ratio."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, "before", "after", n=context))
    body = [line for line in lines if not line.startswith(("---", "+++"))]
    return {
        "diff": "".join(line if line.endswith("\n") else line + "\n" for line in lines),
        "added": sum(line.startswith("+") for line in body),
        "removed": sum(line.startswith("-") for line in body),
        "similarity": round(difflib.SequenceMatcher(None, a, b).ratio(), 4),
    }
