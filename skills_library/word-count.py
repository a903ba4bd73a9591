# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "word-count"
# version = "1.0.0"
# category = "text"
# type = "analyze"
# description = "Count characters, words, sentences, lines and paragraphs; estimate reading time."
# tags = ["count", "words", "reading-time", "text"]
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
#
# [tool.atom.inputs.properties.words_per_minute]
# type = "integer"
# minimum = 1
# default = 200
#
# [[tool.atom.examples]]
# input = { text = "Hello world. This is Atom!\n\nA second paragraph, short." }
# [tool.atom.examples.output]
# characters = 54
# characters_no_spaces = 45
# words = 9
# sentences = 3
# lines = 3
# paragraphs = 2
# reading_time_seconds = 3
# ///
import math
import re


def run(text: str, words_per_minute: int = 200) -> dict:
    """Return counts for ``text`` and its reading time at ``words_per_minute``."""
    words = re.findall(r"\b[\w'-]+\b", text)
    sentences = [s for s in re.split(r"[.!?]+(?:\s+|$)", text) if s.strip()]
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return {
        "characters": len(text),
        "characters_no_spaces": len(re.sub(r"\s", "", text)),
        "words": len(words),
        "sentences": len(sentences),
        "lines": len(text.splitlines()),
        "paragraphs": len(paragraphs),
        "reading_time_seconds": math.ceil(len(words) * 60 / words_per_minute),
    }
