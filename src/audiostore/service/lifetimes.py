"""How long a thing a caller asks for may live: the default, or the asked value within a cap.

Signed URLs and client tokens both take an optional lifetime in seconds; both refuse the same
way (422 naming the field, the cap and the setting that raises it).
"""

from __future__ import annotations

from ..errors import ValidationFailed


def lifetime_within(given: int | None, *, default: int, maximum: int, field: str, setting: str) -> int:
    """`given` seconds (or `default` when None), refused unless 1 <= seconds <= `maximum`."""
    value = default if given is None else given
    if not 1 <= value <= maximum:
        raise ValidationFailed(f"{field} must be between 1 and {maximum} seconds ({setting}).")
    return value
