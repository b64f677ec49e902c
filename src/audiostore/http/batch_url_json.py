"""The answer of `POST /v1/urls` (`BatchUrlResponse`) written as JSON text, byte for byte what
pydantic's encoder makes of the same items.

A batch is up to 1000 items of four fields: a dict an item and the encoder's walk over them
cost more than signing the URL did. Ids and URLs are almost always printable ASCII without a
quote or a backslash, which JSON carries as they are; that is checked once over the whole
batch, and each distinct expiry time (mostly one) is encoded once. Anything else (an id asked
for with a quote, a control character or a non-ASCII letter in it) takes pydantic's encoder
for the whole answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_json

from ..service import SignedBatch

__all__ = ["batch_url_json"]

# Printable ASCII but `"` and `\`: what a JSON string holds as it is.
_AS_IS = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
NOT_FOUND_ITEM: dict[str, Any] = {"code": "not_found", "message": "No such audio."}
_NOT_FOUND = to_json(NOT_FOUND_ITEM).decode()


def _by_encoder(batch: SignedBatch) -> bytes:
    items = [
        {"id": audio_id, "url": None, "expires_at": None, "error": NOT_FOUND_ITEM} if url is None
        else {"id": audio_id, "url": url, "expires_at": at, "error": None}
        for audio_id, url, at in zip(batch.ids, batch.urls, batch.expires_at, strict=True)
    ]
    return to_json({"urls": items})


def batch_url_json(batch: SignedBatch) -> bytes:
    ids, urls, until = batch
    text = "".join([*ids, *(u for u in urls if u is not None)])
    if not text.isascii() or text.encode().translate(None, _AS_IS):  # anything left needs escaping
        return _by_encoder(batch)
    stamps: dict[datetime, str] = {}
    parts: list[str] = []
    for audio_id, url, at in zip(ids, urls, until, strict=True):
        if url is None or at is None:
            parts.append(f'{{"id":"{audio_id}","url":null,"expires_at":null,"error":{_NOT_FOUND}}}')
            continue
        stamp = stamps.get(at)
        if stamp is None:
            stamp = stamps[at] = to_json(at).decode()
        parts.append(f'{{"id":"{audio_id}","url":"{url}","expires_at":{stamp},"error":null}}')
    return f'{{"urls":[{",".join(parts)}]}}'.encode()
