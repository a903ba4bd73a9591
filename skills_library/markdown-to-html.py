# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "markdown>=3.5",
# ]
#
# [tool.atom]
# name = "markdown-to-html"
# version = "1.0.0"
# category = "text"
# type = "transform"
# description = "Render Markdown (with tables and fenced code) to HTML and list its headings."
# tags = ["markdown", "html", "render"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["markdown"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.markdown]
# type = "string"
#
# [[tool.atom.examples]]
# input = { markdown = "# Title\n\nSome *emphasis* and `code`." }
# [tool.atom.examples.output]
# html = "<h1>Title</h1>\n<p>Some <em>emphasis</em> and <code>code</code>.</p>"
# headings = [{ level = 1, text = "Title" }]
# ///
import re

import markdown as md


def run(markdown: str) -> dict:
    """Return the HTML for ``markdown`` and the headings (level and text) it contains."""
    html = md.markdown(markdown, extensions=["tables", "fenced_code"])
    headings = [
        {"level": int(level), "text": re.sub(r"<[^>]+>", "", inner)}
        for level, inner in re.findall(r"<h([1-6])[^>]*>(.*?)</h\1>", html)
    ]
    return {"html": html, "headings": headings}
