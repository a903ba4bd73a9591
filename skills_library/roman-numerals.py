# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "roman-numerals"
# version = "1.0.0"
# category = "math"
# type = "transform"
# description = """Convert between whole numbers (1 to 3999) and Roman numerals, in either \
# direction; malformed numerals such as IIII or VX are refused."""
# tags = ["roman", "numerals", "conversion", "math"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["value"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.value]
# type = ["integer", "string"]
# description = "A number from 1 to 3999, or a Roman numeral."
#
# [[tool.atom.examples]]
# input = { value = 2024 }
# output = { number = 2024, roman = "MMXXIV" }
#
# [[tool.atom.examples]]
# input = { value = "mcmxcix" }
# output = { number = 1999, roman = "MCMXCIX" }
# ///
NUMERALS = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]  # fmt: skip


def _to_roman(number: int) -> str:
    if not 1 <= number <= 3999:
        raise ValueError("Roman numerals cover 1 to 3999")
    out = []
    for amount, letters in NUMERALS:
        count, number = divmod(number, amount)
        out.append(letters * count)
    return "".join(out)


def run(value: int | str) -> dict:
    """Return both the number and its canonical Roman numeral."""
    if isinstance(value, int):
        return {"number": value, "roman": _to_roman(value)}
    text, total, i = value.strip().upper(), 0, 0
    for amount, letters in NUMERALS:
        while text.startswith(letters, i):
            total += amount
            i += len(letters)
    if i != len(text) or not text or _to_roman(total) != text:
        raise ValueError(f"not a valid Roman numeral: {value!r}")
    return {"number": total, "roman": text}
