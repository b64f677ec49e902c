"""The `metadata` a client attaches to an object: a JSON object of bounded size, with finite
numbers and storable strings (see `text_field`)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidMetadata
from .text_field import strings_in, unstorable

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 32  # objects and arrays within each other
# Python refuses to turn longer digit strings into int (CVE-2020-10735); say so as a 422.
MAX_INTEGER_DIGITS = 4300


def parse_metadata(raw: str | None) -> dict[str, Any] | None:
    """Metadata arrives as a JSON object in a form field or body; anything else is a 422."""
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise InvalidMetadata(f"metadata is not valid JSON: {exc.msg}.") from exc
    except RecursionError as exc:  # deeper than the parser's own stack
        raise InvalidMetadata(f"metadata may nest at most {MAX_METADATA_DEPTH} levels.") from exc
    return check_metadata(value)


def check_metadata(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidMetadata()
    if _depth(value) > MAX_METADATA_DEPTH:
        raise InvalidMetadata(f"metadata may nest at most {MAX_METADATA_DEPTH} levels.")
    try:
        dumped = json.dumps(value, allow_nan=False)
    except ValueError as exc:  # NaN or Infinity (also what 1e999 parses to): not JSON
        if "digits" in str(exc):  # an int from a JSON body (pydantic) too long to print
            raise _too_many_digits() from exc
        raise InvalidMetadata("metadata numbers must be finite (no NaN or Infinity).") from exc
    if len(dumped) > MAX_METADATA_BYTES:
        raise InvalidMetadata(f"metadata may hold at most {MAX_METADATA_BYTES} bytes of JSON.")
    for text in strings_in(value):
        why = unstorable(text)
        if why is not None:
            raise InvalidMetadata(f"metadata holds {why}.")
    return value


def _too_many_digits() -> InvalidMetadata:
    return InvalidMetadata(f"metadata integers may have at most {MAX_INTEGER_DIGITS} digits.")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _too_many_digits()
    return int(text)


def _depth(value: object) -> int:
    """How many objects and arrays are nested in each other at the deepest (iteratively)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_METADATA_DEPTH:  # no need to look further once over the limit
            pending.extend((child, level + 1) for child in children)
    return deepest
