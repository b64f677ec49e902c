"""A blob key prefix as a range of keys, so an (owner, key) index can find its matches.

`key LIKE 'p%'` uses no index on PostgreSQL under a non-C collation (and never with the
pattern as a parameter), and SQLite's LIKE ignores ASCII case, where a blob key is
case-sensitive. Compared byte by byte (PostgreSQL `COLLATE "C"`, SQLite's BINARY), UTF-8
orders as code points, and the keys that start with `p` are exactly those in
`[p, next(p))`: `next(p)` is `p` with its last code point raised by one (code points at the
top of the range dropped first, surrogates skipped, as UTF-8 cannot hold them).
"""

from __future__ import annotations

__all__ = ["KEY_COLLATION", "key_prefix_range"]

# The collation the range is compared in on PostgreSQL; its index (migration 0014) is built
# in the same one, or the planner cannot use it.
KEY_COLLATION = "C"

_TOP = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def key_prefix_range(prefix: str) -> tuple[str, str | None]:
    """`(low, high)`: a key starts with `prefix` iff `low <= key < high` (no `high`: no
    upper bound, the prefix being all U+10FFFF)."""
    head = prefix.rstrip(chr(_TOP))
    if not head:
        return prefix, None
    point = ord(head[-1]) + 1
    if point in _SURROGATES:
        point = _SURROGATES.stop
    return prefix, head[:-1] + chr(point)
