"""The states of an audio row, and the one statement that makes rows `deleting`.

`pending` (intent written, blob on its way) -> `ready` -> `deleting` (invisible; blobs then
row go) -> row gone. Whoever makes a row `deleting` (a client's delete, a sweep's claim, a
rolled-back upload, a sweep batch the store refused) uses `mark_deleting`, so a `deleting`
row always starts the delete-retry backoff from the same values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Update, update

from .models import AudioRow

READY, PENDING, DELETING = "ready", "pending", "deleting"


def mark_deleting(
    where: ColumnElement[bool], *, now: datetime, retry_at: datetime | None = None
) -> Update:
    """UPDATE the rows matching `where` to `deleting`, with no attempt made yet.

    `retry_at` None: the caller deletes the blobs now (the retry job takes the row only if
    that never reports back); a time: the delete-retry job takes it from then on."""
    return (
        update(AudioRow)
        .where(where)
        .values(state=DELETING, updated_at=now, next_attempt_at=retry_at, attempts=0)
        .execution_options(synchronize_session=False)
    )
