"""A callback run after every statement an engine sends that may change rows.

In-process caches of catalogue rows (service/served_rows.py) clear themselves through it, so
a change made by any module of this process is seen by the very next read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


def may_change_rows(statement: str) -> bool:
    head = statement.lstrip()[:6].upper()
    if head == "SELECT":
        return False
    if head == "INSERT":  # a new id is never cached; an upsert might replace a cached row
        upper = statement.upper()
        return "ON CONFLICT" in upper or "REPLACE" in upper
    return True


def on_row_changes(engine: AsyncEngine, callback: Callable[[], None]) -> None:
    """Call `callback` after each statement `engine` runs that may change a row."""

    def after_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if may_change_rows(statement):
            callback()

    event.listen(engine.sync_engine, "after_cursor_execute", after_execute)
