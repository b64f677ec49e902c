"""Range header parsing (RFC 9110 §14) for responses the service streams itself."""

from __future__ import annotations

from ..errors import RangeNotSatisfiable

MAX_RANGES = 16


def parse_range(header: str, size: int) -> list[tuple[int, int]]:
    """Half-open `(start, end)` byte ranges, or `RangeNotSatisfiable` (416) for a malformed or
    unsatisfiable header."""
    unsatisfiable = RangeNotSatisfiable(
        f"Range {header!r} cannot be satisfied for {size} bytes.",
        headers={"Content-Range": f"bytes */{size}"},
    )
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or not spec.strip():
        raise unsatisfiable
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) > MAX_RANGES:
        raise unsatisfiable
    ranges: list[tuple[int, int]] = []
    for part in parts:
        first, dash, last = part.partition("-")
        if not dash:
            raise unsatisfiable
        try:
            if first == "":
                suffix = int(last)
                if suffix <= 0 or last.strip() != last or not last.isdigit():
                    raise unsatisfiable
                ranges.append((max(0, size - suffix), size))
                continue
            if not first.isdigit() or (last and not last.isdigit()):
                raise unsatisfiable
            start = int(first)
            end = int(last) + 1 if last else size
        except ValueError:
            raise unsatisfiable from None
        if start >= size or end <= start:
            raise unsatisfiable
        ranges.append((start, min(end, size)))
    return ranges
