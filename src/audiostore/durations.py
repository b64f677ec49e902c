"""Human durations (`90s`, `30m`, `24h`, `7d`, `1h30m`, or plain seconds) for settings and CLI."""

from __future__ import annotations

import math
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION_SECONDS = 100 * 365 * 86400  # longer is a typo (and overflows a timedelta)
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str | float | int) -> float:
    """Seconds in `text`; raises ValueError on anything else (negative, empty, unknown unit).

    Example:
        ```py
        parse_duration("1h30m")  # 5400.0
        parse_duration("45")     # 45.0
        ```
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        raw = text.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", raw):
            value = float(raw)
        else:
            parts = _PART.findall(raw)
            if not raw or "".join(n + u for n, u in parts) != raw:
                raise ValueError(f"{text!r} is not a duration (e.g. 90s, 30m, 24h, 7d, 1h30m)")
            value = sum(float(n) * _UNITS[u] for n, u in parts)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number of seconds")
    if value < 0:
        raise ValueError(f"{text!r}: a duration cannot be negative")
    if value > MAX_DURATION_SECONDS:
        raise ValueError(f"{text!r}: a duration may be at most 100 years")
    return value


def parse_collection_ttls(text: str) -> dict[str, float]:
    """`tts=24h,scratch=1h` -> {"tts": 86400.0, "scratch": 3600.0}."""
    out: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, ttl = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{item!r}: expected collection=duration (e.g. tts=24h)")
        seconds = parse_duration(ttl)
        if seconds <= 0:
            raise ValueError(f"{item!r}: the TTL must be positive")
        out[name.strip()] = seconds
    return out
