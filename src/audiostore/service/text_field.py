"""Free text a client stores (`text`, `voice_id`, a key's label, metadata strings): text every
catalogue can hold. PostgreSQL refuses a NUL character in text, and no database, JSON encoder
or UTF-8 stream takes a lone surrogate (what a JSON `\\ud800` escape decodes to); either would
otherwise fail the request after it had begun to write."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import ValidationFailed


def unstorable(value: str) -> str | None:
    """What in `value` no catalogue can store, in words; None when it can be stored."""
    if "\x00" in value:
        return "a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not valid Unicode"
    return None


def check_text(value: str, field: str, *, max_chars: int | None = None) -> str:
    """`value` if it can be stored as `field`, else a 422 `validation_failed` saying why."""
    why = unstorable(value)
    if why is not None:
        raise ValidationFailed(f"{field} holds {why}.")
    if max_chars is not None and len(value) > max_chars:
        raise ValidationFailed(f"{field} may hold at most {max_chars} characters.")
    return value


def strings_in(value: object) -> Iterator[str]:
    """Every string in a JSON-shaped value, keys included, however deep (no recursion: a body
    nested a thousand levels must not overflow the stack)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
