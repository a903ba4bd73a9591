# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "convert-units"
# version = "1.0.0"
# category = "math"
# type = "transform"
# description = """Convert a value between units of length, mass, volume, time, data size, \
# speed and temperature (m, km, mi, ft, in, kg, lb, oz, l, gal, s, h, d, B, KiB, MB, km/h, mph, \
# C, F, K, ...)."""
# tags = ["units", "conversion", "measurement", "math"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["value", "from_unit", "to_unit"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.value]
# type = "number"
#
# [tool.atom.inputs.properties.from_unit]
# type = "string"
#
# [tool.atom.inputs.properties.to_unit]
# type = "string"
#
# [tool.atom.inputs.properties.digits]
# type = "integer"
# minimum = 0
# maximum = 12
# default = 6
#
# [[tool.atom.examples]]
# input = { value = 26.2, from_unit = "mi", to_unit = "km" }
# [tool.atom.examples.output]
# value = 26.2
# from_unit = "mi"
# to_unit = "km"
# result = 42.164813
# quantity = "length"
#
# [[tool.atom.examples]]
# input = { value = 98.6, from_unit = "F", to_unit = "C", digits = 2 }
# [tool.atom.examples.output]
# value = 98.6
# from_unit = "F"
# to_unit = "C"
# result = 37.0
# quantity = "temperature"
# ///
UNITS: dict[str, dict[str, float]] = {
    "length": {"mm": 0.001, "cm": 0.01, "m": 1, "km": 1000, "in": 0.0254, "ft": 0.3048,
               "yd": 0.9144, "mi": 1609.344, "nmi": 1852},
    "mass": {"mg": 1e-6, "g": 0.001, "kg": 1, "t": 1000, "oz": 0.028349523125,
             "lb": 0.45359237, "st": 6.35029318},
    "volume": {"ml": 0.001, "l": 1, "m3": 1000, "tsp": 0.00492892159375,
               "tbsp": 0.01478676478125, "cup": 0.2365882365, "pt": 0.473176473,
               "qt": 0.946352946, "gal": 3.785411784},
    "time": {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800},
    "data": {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 1024,
             "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "bit": 0.125},
    "speed": {"m/s": 1, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 1852 / 3600},
}  # fmt: skip
TEMPERATURE = {  # (to kelvin, from kelvin)
    "C": (lambda v: v + 273.15, lambda k: k - 273.15),
    "F": (lambda v: (v - 32) * 5 / 9 + 273.15, lambda k: (k - 273.15) * 9 / 5 + 32),
    "K": (lambda v: v, lambda k: k),
}


def run(value: float, from_unit: str, to_unit: str, digits: int = 6) -> dict:
    """Return ``value`` converted from ``from_unit`` to ``to_unit`` (same quantity only)."""
    if from_unit in TEMPERATURE and to_unit in TEMPERATURE:
        quantity = "temperature"
        result = TEMPERATURE[to_unit][1](TEMPERATURE[from_unit][0](value))
    else:
        quantity = next((q for q, t in UNITS.items() if from_unit in t and to_unit in t), None)
        if quantity is None:
            raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}")
        result = value * UNITS[quantity][from_unit] / UNITS[quantity][to_unit]
    return {
        "value": value,
        "from_unit": from_unit,
        "to_unit": to_unit,
        "result": round(result, digits),
        "quantity": quantity,
    }
