"""Request bodies read with orjson (faster than the standard library on a large body such as
a 10,000-step workflow definition; docs/decisions.md), giving exactly what `json.loads` gives.
`atom_site.errors.JsonParser` reads every API body with `json_loads`.

orjson differs from `json.loads` in three ways, all handled by reading such a body with
`json.loads` instead: it refuses NaN and Infinity, lone surrogates (`"\\ud800"`) and any
encoding but UTF-8 (errors: the standard library then decides, and raises its own error), and
it reads an integer beyond 64 bits as a float (silently: a body holding a run of 19 or more
digits is read by the standard library, digits inside strings included).
"""

from __future__ import annotations

import gc
import json
from typing import Any

import orjson

# Digits become "0", everything else a space: a long integer is then a run of zeros.
_DIGIT_RUNS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_RUN = b"0" * 19


def json_loads(body: bytes | str) -> Any:
    """What `json.loads(body)` returns (or raises), faster."""
    try:
        data = body.encode() if isinstance(body, str) else body
    except UnicodeEncodeError:  # a str holding a lone surrogate
        return json.loads(body)
    if _LONG_RUN in data.translate(_DIGIT_RUNS):
        return json.loads(body)
    # The objects of a large body all stay alive: the cyclic collector would walk them for
    # nothing while they are made (see docs/decisions.md, "The cyclic garbage collector…").
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(body)
    finally:
        if was_enabled:
            gc.enable()
