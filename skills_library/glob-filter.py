# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "glob-filter"
# version = "1.0.0"
# category = "files"
# type = "utility"
# description = """Filter a list of file paths with glob patterns (*, ?, [abc] and ** for any \
# number of folders): keep what matches an include pattern and no exclude pattern."""
# tags = ["glob", "filter", "paths", "files"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["paths", "include"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.paths]
# type = "array"
# items = { type = "string" }
#
# [tool.atom.inputs.properties.include]
# type = "array"
# minItems = 1
# items = { type = "string" }
#
# [tool.atom.inputs.properties.exclude]
# type = "array"
# items = { type = "string" }
# default = []
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# paths = ["app.py", "src/atom/core.py", "src/atom/tests/test_core.py", "docs/index.md", "x.pyc"]
# include = ["**/*.py"]
# exclude = ["**/tests/**"]
# [tool.atom.examples.output]
# matched = ["app.py", "src/atom/core.py"]
# excluded = ["src/atom/tests/test_core.py"]
# ///
import re
from functools import cache


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    """Translate a glob into a regex: ``**/`` spans folders, ``*`` and ``?`` stay in one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif (c := pattern[i]) in "*?":
            out.append("[^/]*" if c == "*" else "[^/]")
            i += 1
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def run(paths: list[str], include: list[str], exclude: list[str] | None = None) -> dict:
    """Return the paths that match ``include`` and not ``exclude``, and those excluded."""
    matched, excluded = [], []
    for path in paths:
        if any(_compile(p).match(path) for p in include):
            dropped = any(_compile(p).match(path) for p in exclude or [])
            (excluded if dropped else matched).append(path)
    return {"matched": matched, "excluded": excluded}
