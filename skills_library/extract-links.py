# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "beautifulsoup4>=4.12",
# ]
#
# [tool.atom]
# name = "extract-links"
# version = "1.0.0"
# category = "web"
# type = "extract"
# description = """List the links of an HTML page given as text: absolute URL (resolved against \
# a base URL), link text, rel, and whether it leaves the base URL's host."""
# tags = ["html", "links", "scrape", "web"]
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
# [tool.atom.inputs.properties.base_url]
# type = "string"
# default = ""
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# base_url = "https://example.com/docs/"
# html = """<p>See the <a href="intro.html">intro</a>, <a href="/api#list">the API</a>,
# <a href="https://x.org/" rel="nofollow noopener">the <b>code</b></a>
# and <a href="mailto:hi@example.com">mail us</a>. <a name="anchor">no href</a></p>"""
# [tool.atom.examples.output]
# count = 4
# links = [
#   { url = "https://example.com/docs/intro.html", text = "intro", rel = [], external = false },
#   { url = "https://example.com/api#list", text = "the API", rel = [], external = false },
#   { url = "https://x.org/", text = "the code", rel = ["nofollow", "noopener"], external = true },
#   { url = "mailto:hi@example.com", text = "mail us", rel = [], external = true },
# ]
# ///
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup


def run(html: str, base_url: str = "") -> dict:
    """Return every ``<a href>`` of ``html`` in document order."""
    host = urlsplit(base_url).hostname
    links = []
    for anchor in BeautifulSoup(html, "html.parser").find_all("a", href=True):
        url = urljoin(base_url, anchor["href"].strip())
        links.append(
            {
                "url": url,
                "text": anchor.get_text(" ", strip=True),
                "rel": list(anchor.get("rel") or []),
                "external": bool(host) and urlsplit(url).hostname != host,
            }
        )
    return {"count": len(links), "links": links}
