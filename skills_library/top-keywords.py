# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "top-keywords"
# version = "1.0.0"
# category = "text"
# type = "analyze"
# description = """Find the most frequent meaningful words of an English text, leaving out \
# common stop words and short words."""
# tags = ["keywords", "frequency", "nlp", "text"]
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
#
# [tool.atom.inputs.properties.top]
# type = "integer"
# minimum = 1
# maximum = 100
# default = 5
#
# [tool.atom.inputs.properties.min_length]
# type = "integer"
# minimum = 1
# default = 3
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# text = "Skills are small. Atom installs skills, loads skills and runs workflows of skills."
# top = 3
# [tool.atom.examples.output]
# total_words = 13
# keywords = [
#     { word = "skills", count = 4 },
#     { word = "small", count = 1 },
#     { word = "atom", count = 1 },
# ]
# ///
import re
from collections import Counter

STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its just me more most my
    no nor not now of off on once only or other our ours out over own same she should so some
    such than that the their them then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your""".split()
)


def run(text: str, top: int = 5, min_length: int = 3) -> dict:
    """Return the ``top`` words of ``text`` by count (ties keep their first appearance)."""
    words = re.findall(r"[a-z][a-z'-]*", text.lower())
    counts = Counter(w for w in words if len(w) >= min_length and w not in STOP_WORDS)
    return {
        "total_words": len(words),
        "keywords": [{"word": w, "count": c} for w, c in counts.most_common(top)],
    }
