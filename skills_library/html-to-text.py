# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "beautifulsoup4>=4.12",
# ]
#
# [tool.atom]
# name = "html-to-text"
# version = "1.0.0"
# category = "web"
# type = "extract"
# description = """Turn an HTML page given as text into readable plain text (one block per line, \
# scripts and styles dropped) with its title, description and headings."""
# tags = ["html", "text", "scrape", "readability", "web"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["html"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.html]
# type = "string"
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# html = """<html><head><title>Atom docs</title>
# <meta name="description" content="Skills, fast."><style>p{color:red}</style></head>
# <body><h1>Welcome</h1><p>Install a <em>skill</em>.</p><script>track()</script>
# <h2>Next</h2><ul><li>Run it</li><li>Measure it</li></ul></body></html>"""
# [tool.atom.examples.output]
# title = "Atom docs"
# description = "Skills, fast."
# headings = ["Welcome", "Next"]
# text = "Welcome\nInstall a skill.\nNext\nRun it\nMeasure it"
# ///
from bs4 import BeautifulSoup

BLOCKS = ["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br", "pre", "blockquote"]


def run(html: str) -> dict:
    """Return the title, meta description, headings and plain text of ``html``."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    meta = soup.find("meta", attrs={"name": "description"})
    headings = [h.get_text(" ", strip=True) for h in soup.find_all(["h1", "h2", "h3"])]
    body = soup.body or soup
    for block in body.find_all(BLOCKS):
        block.insert_after("\n")
    lines = (" ".join(line.split()) for line in body.get_text().splitlines())
    return {
        "title": title,
        "description": meta.get("content", "") if meta else "",
        "headings": headings,
        "text": "\n".join(line for line in lines if line),
    }
