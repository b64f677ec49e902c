"""A URL with a NUL character (`%00`) in its path or query is refused before any route reads
it: PostgreSQL cannot compare text that holds one, SQLite's FTS5 cannot parse one in a search,
and no id, name, cursor or search term needs one. (Checked by the request gate, request_gate.py.)"""

from __future__ import annotations

from starlette.types import Scope

from ..errors import BadRequest

__all__ = ["nul_refusal"]


def nul_refusal(scope: Scope) -> BadRequest | None:
    """A 400 `bad_request` for a URL holding a NUL; None for every other."""
    query: bytes = scope["query_string"]
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        return BadRequest("The URL holds a NUL character (%00) in its path or query.")
    return None
