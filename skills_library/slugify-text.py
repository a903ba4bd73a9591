# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "python-slugify>=8",
# ]
#
# [tool.atom]
# name = "slugify-text"
# version = "1.0.0"
# category = "text"
# type = "transform"
# description = "Turn any text (accents, punctuation, emoji) into a URL-safe slug."
# tags = ["slug", "url", "text"]
# entrypoint = "run"
# timeout = 10
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
# [tool.atom.inputs.properties.separator]
# type = "string"
# default = "-"
#
# [tool.atom.inputs.properties.max_length]
# type = "integer"
# minimum = 0
# default = 0
# description = "Cut the slug to this many characters on a word boundary (0: no limit)."
#
# [tool.atom.inputs.properties.stopwords]
# type = "array"
# items = { type = "string" }
# default = []
# description = "Words to leave out of the slug."
#
# [tool.atom.inputs.properties.lowercase]
# type = "boolean"
# default = true
#
# [[tool.atom.examples]]
# input = { text = "Hello, World!" }
# output = { slug = "hello-world" }
#
# [[tool.atom.examples]]
# input = { text = "Crème brûlée à la carte", separator = "_", max_length = 12 }
# output = { slug = "creme_brulee" }
#
# [[tool.atom.examples]]
# input = { text = "The Art of Computer Programming", stopwords = ["the", "of"] }
# output = { slug = "art-computer-programming" }
# ///
from slugify import slugify


def run(
    text: str,
    separator: str = "-",
    max_length: int = 0,
    stopwords: list[str] | None = None,
    lowercase: bool = True,
) -> dict:
    """Return the slug of ``text``: transliterated to ASCII, punctuation dropped, words joined
    by ``separator`` and cut on a word boundary when ``max_length`` is set."""
    slug = slugify(
        text,
        separator=separator,
        max_length=max_length,
        word_boundary=True,
        stopwords=stopwords or (),
        lowercase=lowercase,
    )
    if not slug:
        raise ValueError("the text has no letters or digits to make a slug from")
    return {"slug": slug}
