"""How many rows an UPDATE or DELETE matched."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.engine import CursorResult, Result


def affected_rows(result: Result[Any]) -> int:
    """The row count of an UPDATE or DELETE run through `AsyncSession.execute` or
    `AsyncConnection.execute`.

    Both type every result as `Result`, but for DML they return a `CursorResult`, the only
    kind that has `rowcount`; the cast states that. A driver that cannot tell (-1) is
    passed through, as before; `None` counts as 0."""
    return cast(CursorResult[Any], result).rowcount or 0
