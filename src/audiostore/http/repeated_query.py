"""A query parameter given twice is refused before any route reads it.

No route takes a list in its query, and FastAPI quietly keeps the last of repeated values:
`?prefix=a&prefix=b` would list `b` as if `a` had never been asked for. A 400 says so instead.
Signed URLs refuse repeats on their own (`signing.parse_signed_query`); this covers the rest.
(Checked by the request gate, request_gate.py.)
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import Scope

from ..errors import BadRequest
from ..signing import SIGNATURE_PARAM

__all__ = ["repeated_name", "repeated_query_refusal"]


def repeated_name(query: bytes) -> str | None:
    """The first parameter name that `query` holds more than once, if any.

    A signed URL's query is left to its own check, which refuses every spelling but the
    signed one with 403 `signature_invalid` (a tampered URL is a signature matter)."""
    if b"&" not in query and b";" not in query:
        return None  # one parameter at most: the common case costs one scan
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    seen: set[str] = set()
    repeated = None
    for name, _ in pairs:
        if name in seen and repeated is None:
            repeated = name
        seen.add(name)
    return None if SIGNATURE_PARAM in seen else repeated


def repeated_query_refusal(scope: Scope) -> BadRequest | None:
    """A 400 `bad_request` naming the repeated parameter; None when none is repeated."""
    name = repeated_name(scope["query_string"])
    if name is None:
        return None
    return BadRequest(f"The query parameter {name!r} is given more than once.")
