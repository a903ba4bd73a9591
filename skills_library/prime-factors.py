# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "prime-factors"
# version = "1.0.0"
# category = "math"
# type = "analyze"
# description = """Factor a whole number into primes and report whether it is prime, its \
# factorisation as text, and the number and sum of its divisors."""
# tags = ["primes", "factorization", "divisors", "number-theory", "math"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["n"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.n]
# type = "integer"
# minimum = 2
# maximum = 1000000000000
#
# [[tool.atom.examples]]
# input = { n = 360 }
# [tool.atom.examples.output]
# n = 360
# is_prime = false
# factors = [2, 2, 2, 3, 3, 5]
# powers = { "2" = 3, "3" = 2, "5" = 1 }
# expression = "2^3 × 3^2 × 5"
# divisor_count = 24
# divisor_sum = 1170
#
# [[tool.atom.examples]]
# input = { n = 1000003 }
# [tool.atom.examples.output]
# n = 1000003
# is_prime = true
# factors = [1000003]
# powers = { "1000003" = 1 }
# expression = "1000003"
# divisor_count = 2
# divisor_sum = 1000004
# ///
import math
from collections import Counter


def run(n: int) -> dict:
    """Return the prime factorisation of ``n`` (trial division, fine up to 10^12)."""
    factors, rest, p = [], n, 2
    while p * p <= rest:
        while rest % p == 0:
            factors.append(p)
            rest //= p
        p += 1 if p == 2 else 2
    if rest > 1:
        factors.append(rest)
    powers = Counter(factors)
    return {
        "n": n,
        "is_prime": factors == [n],
        "factors": factors,
        "powers": {str(p): k for p, k in powers.items()},
        "expression": " × ".join(f"{p}^{k}" if k > 1 else str(p) for p, k in powers.items()),
        "divisor_count": math.prod(k + 1 for k in powers.values()),
        "divisor_sum": math.prod((p ** (k + 1) - 1) // (p - 1) for p, k in powers.items()),
    }
