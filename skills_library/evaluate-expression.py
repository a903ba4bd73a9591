# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "evaluate-expression"
# version = "1.0.0"
# category = "math"
# type = "utility"
# description = """Safely evaluate an arithmetic expression with variables and math functions \
# (sqrt, log, sin, round, min, max, ...): parsed with ast, never eval'd, so no code runs."""
# tags = ["calculator", "expression", "arithmetic", "math"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["expression"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.expression]
# type = "string"
# minLength = 1
# maxLength = 1000
#
# [tool.atom.inputs.properties.variables]
# type = "object"
# additionalProperties = { type = "number" }
# default = {}
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# expression = "principal * (1 + rate / 12) ** (12 * years)"
# variables = { principal = 1000, rate = 0.05, years = 10 }
# [tool.atom.examples.output]
# result = 1647.00949769028
#
# [[tool.atom.examples]]
# input = { expression = "sqrt(3**2 + 4**2) + floor(pi)" }
# output = { result = 8.0 }
# ///
import ast
import math
import operator

OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip
FUNCTIONS = {
    name: getattr(math, name)
    for name in ("sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos",
                 "atan", "floor", "ceil", "factorial", "hypot", "radians", "degrees")
} | {"abs": abs, "round": round, "min": min, "max": max}  # fmt: skip
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _eval(node: ast.AST, names: dict[str, float]) -> float:
    match node:
        case ast.Constant(value=int() | float() as value) if not isinstance(value, bool):
            return value
        case ast.Name(id=name) if name in names:
            return names[name]
        case ast.BinOp(left, op, right) if type(op) in OPERATORS:
            left, right = _eval(left, names), _eval(right, names)
            if isinstance(op, ast.Pow) and abs(right) > 1000:
                raise ValueError("exponent too large")
            return OPERATORS[type(op)](left, right)
        case ast.UnaryOp(op, operand) if type(op) in OPERATORS:
            return OPERATORS[type(op)](_eval(operand, names))
        case ast.Call(func=ast.Name(id=fn), args=args, keywords=[]) if fn in FUNCTIONS:
            return FUNCTIONS[fn](*(_eval(arg, names) for arg in args))
    raise ValueError(f"not allowed in an expression: {ast.unparse(node)!r}")


def run(expression: str, variables: dict[str, float] | None = None) -> dict:
    """Return the value of ``expression``; only numbers, operators and listed names are allowed."""
    tree = ast.parse(expression, mode="eval")
    return {"result": _eval(tree.body, CONSTANTS | (variables or {}))}
