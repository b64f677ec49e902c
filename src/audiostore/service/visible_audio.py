"""The one rule for "may this caller see this object": its owner's (or an admin's), ready,
not expired, and in a collection the caller's client token (if any) is limited to. Anything
else is 404, so a caller cannot learn that another's id exists."""

from __future__ import annotations

from datetime import datetime

from ..catalog import AudioRow, Catalog
from ..errors import NotFound
from .principal import Principal


async def visible_or_not_found(
    catalog: Catalog, principal: Principal, audio_id: str, *, now: datetime
) -> AudioRow:
    row = await catalog.get_visible(audio_id, owner=principal.scope(), now=now)
    if row is None or not principal.sees_collection(row.collection):
        raise NotFound()
    return row
