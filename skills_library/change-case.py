# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "change-case"
# version = "1.0.0"
# category = "text"
# type = "transform"
# description = """Split an identifier or phrase into words (camelCase, snake_case, kebab-case, \
# acronyms) and write it in every common case."""
# tags = ["case", "camel-case", "snake-case", "identifier", "text"]
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
# [[tool.atom.examples]]
# input = { text = "parseHTTPResponse code" }
# [tool.atom.examples.output]
# words = ["parse", "http", "response", "code"]
# snake = "parse_http_response_code"
# kebab = "parse-http-response-code"
# camel = "parseHttpResponseCode"
# pascal = "ParseHttpResponseCode"
# constant = "PARSE_HTTP_RESPONSE_CODE"
# title = "Parse Http Response Code"
# ///
import re


def run(text: str) -> dict:
    """Return the words of ``text`` and the text in snake, kebab, camel, Pascal, constant
    and title case."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    capitalized = [w.capitalize() for w in words]
    return {
        "words": words,
        "snake": "_".join(words),
        "kebab": "-".join(words),
        "camel": "".join(words[:1] + capitalized[1:]),
        "pascal": "".join(capitalized),
        "constant": "_".join(words).upper(),
        "title": " ".join(capitalized),
    }
