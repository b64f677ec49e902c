"""Signed URLs for a queue's stream, for players and devices that cannot send a header.

`/v1/queues/{name}/stream.mp3?owner=...&mode=...&expires=...&signature=...` plays the queue
with no API key. The HMAC is the one audio URLs use (`signing.UrlSigner`), over the subject
`queue:{owner}/{name}` and the mode: it opens that owner's queue in that mode only, and never
an audio object (whose subjects are bare ids). The expiry is checked when the stream opens; a
stream already playing goes on, and items deleted or expired meanwhile drop out as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from ..errors import BadRequest, ScopeDenied, SignatureInvalid, ValidationFailed
from ..signing import EXPIRES_PARAM, SIGNATURE_PARAM, parse_signed_query, signed_query
from .principal import Principal
from .queues import MODES, QueueService, QueueStream

OWNER_PARAM = "owner"
MODE_PARAM = "mode"


@dataclass(frozen=True, slots=True)
class SignedQueueUrl:
    name: str
    mode: str
    url: str
    expires_at: datetime


def queue_subject(owner: str, name: str) -> str:
    return f"queue:{owner}/{name}"


def is_signed(query: Mapping[str, str]) -> bool:
    return SIGNATURE_PARAM in query or EXPIRES_PARAM in query


class QueueUrls:
    def __init__(self, queues: QueueService) -> None:
        self.queues = queues
        self.audio = queues.audio

    async def sign(
        self, principal: Principal, name: str, *, mode: str, expires_in: int | None
    ) -> SignedQueueUrl:
        if mode not in MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(MODES)}.")
        if principal.collections is not None:
            # The URL plays the queue as its owner would, every collection's items included.
            raise ScopeDenied("A client token limited to collections cannot sign a queue URL; "
                              "play the stream with the token itself.")
        await self.queues.get(principal, name)  # 404 unless the queue exists
        seconds = self.audio.check_expires_in(expires_in)
        expires_at = self.audio.clock() + timedelta(seconds=seconds)
        expires = int(expires_at.timestamp())
        owner = principal.owner
        signature = self.audio.signer.sign(queue_subject(owner, name), expires, {MODE_PARAM: mode})
        query = f"{OWNER_PARAM}={quote(owner, safe='')}&{signed_query({MODE_PARAM: mode}, expires, signature)}"
        url = f"{self.audio.public_url}/v1/queues/{quote(name)}/stream.mp3?{query}"
        return SignedQueueUrl(name=name, mode=mode, url=url, expires_at=expires_at)

    async def open_stream(self, name: str, raw_query: str, *, icy: bool) -> QueueStream:
        """The stream a signed URL's raw query names; 403 unless it is that URL, as signed."""
        signed = parse_signed_query(raw_query)
        try:
            expires = int(signed.expires)
        except ValueError as exc:
            raise BadRequest("expires must be an integer.") from exc
        params = dict(signed.params)
        owner = params.pop(OWNER_PARAM, "")  # signed as part of the subject
        mode = params.get(MODE_PARAM, "sequential")
        self.audio.signer.verify(
            queue_subject(owner, name), expires, params, signed.signature,
            now=self.audio.clock().timestamp(),
        )
        if set(params) != {MODE_PARAM}:
            raise SignatureInvalid()  # only {mode} is ever signed
        return await self.queues.open_stream(Principal(owner=owner), name, mode=mode, icy=icy)
