"""Typed readers for environment variables.

Every knob in settings goes through one of these so that a bad value stops start-up with
one line naming the variable and what is wrong with it.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    return (os.environ if environ is None else environ).get(name)


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    _check_range(name, number, minimum, maximum)
    return number


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not a finite number")
    _check_range(name, number, minimum, maximum)
    return number


def env_list(
    name: str, default: list[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path, *, environ: Mapping[str, str] | None = None) -> Path:
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        return default.resolve()
    return Path(value).expanduser().resolve()


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum of {maximum}")


class Rate(NamedTuple):
    """At most `count` calls per `seconds` (a fixed window)."""

    count: int
    seconds: int


_PERIODS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


def env_rate(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> Rate | None:
    """A rate limit written `N/period` (`60/minute`, `1000/hour`, `5/10s`); `off` for none."""
    value = _raw(name, environ)
    text = default if value is None or value.strip() == "" else value
    if text.strip().lower() == "off":
        return None
    found = _RATE.match(text.lower())
    if found is None or found.group(3) not in _PERIODS:
        raise ImproperlyConfigured(
            f"{name}={text!r} is not a rate: write N/period (60/minute, 1000/hour, 5/10s, "
            "periods s, m, h, d or second, minute, hour, day) or off"
        )
    count, multiple, unit = int(found.group(1)), int(found.group(2) or 1), found.group(3)
    if count < 1 or multiple < 1:
        raise ImproperlyConfigured(f"{name}={text!r}: the count and the period must be above 0")
    return Rate(count=count, seconds=multiple * _PERIODS[unit])
