"""Signed upload URLs: a URL a browser or phone sends one file to, with no header.

`issue` signs the upload's terms into the URL's query (owner, collection, optional name and
lifetime of the object, maximum size, accepted formats, a random nonce) with the service's
URL signer, in its canonical v2 encoding (signing.py), under a subject of its own
(`upload-url:<nonce>`), so no signature of an object's URL can stand for an upload and no
upload URL opens an object. `verify` refuses any changed term (403 `signature_invalid`) and a
late use (403 `signature_expired`). `use` lets a URL store one object: its nonce is recorded in
the catalogue before the file goes in (a second use answers 410 `upload_url_used`, on every
instance sharing the catalogue) and forgotten if the file is refused, so it can be tried again
with a good one.

The same signed query authorises a tus creation (`POST /v1/uploads?<query>`); the upload's
own URL then carries its own signature (`tus-upload:<id>`), for its HEAD, PATCH and DELETE.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from ..blob_keys import check_key_part, check_name
from ..catalog.upload_grants import UploadGrantCatalog, UploadGrantUseRow
from ..errors import SignatureExpired, SignatureInvalid, UploadUrlUsed, ValidationFailed
from ..settings import DEFAULT_FORMATS, IngestSettings, UrlSettings
from ..signing import UrlSigner, parse_signed_query, signed_query
from .lifetimes import lifetime_within
from .principal import Principal
from .tus_upload_terms import UploadBounds

T = TypeVar("T")

_TERMS = ("owner", "collection", "name", "ttl_seconds", "max_bytes", "formats", "nonce")


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """The terms of one signed upload URL."""

    owner: str
    collection: str
    nonce: str
    max_bytes: int
    formats: tuple[str, ...]
    expires: int
    name: str | None = None
    ttl_seconds: int | None = None

    @property
    def principal(self) -> Principal:
        return Principal(owner=self.owner)

    @property
    def bounds(self) -> UploadBounds:
        return UploadBounds(max_bytes=self.max_bytes, formats=self.formats)

    def params(self) -> dict[str, str]:
        values = {
            "owner": self.owner, "collection": self.collection, "nonce": self.nonce,
            "max_bytes": str(self.max_bytes), "formats": ",".join(self.formats),
        }
        if self.name is not None:
            values["name"] = self.name
        if self.ttl_seconds is not None:
            values["ttl_seconds"] = str(self.ttl_seconds)
        return values


@dataclass(frozen=True, slots=True)
class IssuedUploadUrl:
    url: str
    tus_url: str
    method: str
    expires_at: datetime
    max_bytes: int
    formats: tuple[str, ...]


def _subject(nonce: str) -> str:
    return f"upload-url:{nonce}"


def _tus_subject(upload_id: str) -> str:
    return f"tus-upload:{upload_id}"


class UploadGrants:
    def __init__(
        self, *, ingest: IngestSettings, urls: UrlSettings, upload_url_max_expiry: int,
        public_url: str, signer: UrlSigner, catalog: UploadGrantCatalog,
        clock: Callable[[], datetime],
    ) -> None:
        self.ingest = ingest  # the bounds a signed upload URL's terms lie within
        self.urls = urls
        self.upload_url_max_expiry = upload_url_max_expiry
        self.public_url = public_url
        self.signer = signer
        self.catalog = catalog
        self.clock = clock

    def issue(
        self, principal: Principal, *, collection: str | None = None, name: str | None = None,
        owner: str | None = None, max_bytes: int | None = None, formats: list[str] | None = None,
        expires_in: int | None = None, ttl_seconds: int | None = None,
    ) -> IssuedUploadUrl:
        owner_ = check_key_part(principal.owner_for_new(owner), what="owner")
        collection_ = check_key_part(collection or self.ingest.default_collection, what="collection")
        principal.require_collection(collection_)  # a client token's collections
        name_ = check_name(name) if name else None
        # A client token's bounds carry over to the URLs it mints: a URL never allows more.
        cap, cap_source = principal.upload_limit(self.ingest.max_upload_bytes)
        if max_bytes is not None and not 1 <= max_bytes <= cap:
            raise ValidationFailed(f"max_bytes must be between 1 and {cap} ({cap_source}).")
        accepted = principal.accepted_formats(self.ingest.accepted_formats)
        chosen = tuple(sorted(set(formats))) if formats else tuple(accepted)
        if principal.grant is not None and principal.grant.formats is not None:
            unknown = [f for f in chosen if f not in accepted]
        else:
            unknown = [f for f in chosen if f not in accepted and f not in DEFAULT_FORMATS]
        if unknown or not chosen:
            raise ValidationFailed(
                f"formats must be among {', '.join(accepted)} ({principal.formats_source()}); "
                f"unknown: {', '.join(unknown)}."
            )
        seconds = lifetime_within(
            expires_in, default=self.urls.url_default_expiry, maximum=self.upload_url_max_expiry,
            field="expires_in", setting="AUDIOSTORE_UPLOAD_URL_MAX_EXPIRY",
        )
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValidationFailed("ttl_seconds must be positive.")
        expires_at = self.clock() + timedelta(seconds=seconds)
        if principal.grant is not None:  # no longer than the client token that asked for it
            expires_at = min(expires_at, principal.grant.expires_at)
        grant = UploadGrant(
            owner=owner_, collection=collection_, nonce=secrets.token_urlsafe(18),
            max_bytes=max_bytes or cap, formats=chosen, expires=int(expires_at.timestamp()),
            name=name_, ttl_seconds=ttl_seconds,
        )
        params = grant.params()
        signature = self.signer.sign(_subject(grant.nonce), grant.expires, params)
        query = signed_query(params, grant.expires, signature)
        base = self.public_url
        return IssuedUploadUrl(
            url=f"{base}/v1/signed-upload?{query}", tus_url=f"{base}/v1/uploads?{query}",
            method="PUT", expires_at=expires_at, max_bytes=grant.max_bytes, formats=grant.formats,
        )

    def verify(self, raw_query: str) -> UploadGrant:
        """The terms of a signed upload URL's query; 403 if changed, forged or expired."""
        signed = parse_signed_query(raw_query)
        params = signed.params
        if not set(params) <= set(_TERMS) or not {"owner", "collection", "nonce", "max_bytes", "formats"} <= set(params):
            raise SignatureInvalid("This is not a signed upload URL.")
        try:
            expires = int(signed.expires)
        except ValueError as exc:
            raise SignatureInvalid("This is not a signed upload URL.") from exc
        try:
            self.signer.verify(_subject(params["nonce"]), expires, params, signed.signature,
                               now=self.clock().timestamp())
        except SignatureExpired as exc:  # say which URL, and what to do
            raise SignatureExpired("This signed upload URL has expired; ask for a new one.") from exc
        return UploadGrant(
            owner=params["owner"], collection=params["collection"], nonce=params["nonce"],
            max_bytes=int(params["max_bytes"]),
            formats=tuple(f for f in params["formats"].split(",") if f), expires=expires,
            name=params.get("name"),
            ttl_seconds=int(params["ttl_seconds"]) if "ttl_seconds" in params else None,
        )

    async def use(self, grant: UploadGrant, store: Callable[[], Awaitable[T]],
                  record: Callable[[T], tuple[str | None, str | None]]) -> T:
        """Run `store` as the URL's one use; `record` names what it made (audio id, tus id)."""
        now = self.clock()
        earlier = await self.catalog.claim(UploadGrantUseRow(
            nonce=grant.nonce, owner=grant.owner, audio_id=None, tus_upload_id=None, used_at=now,
            expires_at=datetime.fromtimestamp(grant.expires, now.tzinfo) + timedelta(minutes=5),
        ))
        if earlier is not None:
            raise UploadUrlUsed()
        try:
            made = await store()
        except BaseException:
            await self.catalog.release(grant.nonce)
            raise
        audio_id, tus_upload_id = record(made)
        await self.catalog.complete(grant.nonce, audio_id=audio_id, tus_upload_id=tus_upload_id)
        return made

    # --- the capability of a tus upload made through a signed URL ----------------------
    def tus_location_query(self, upload_id: str) -> str:
        expires = int((self.clock() + timedelta(seconds=self.urls.url_max_expiry)).timestamp())
        return signed_query({}, expires, self.signer.sign(_tus_subject(upload_id), expires, {}))

    def verify_tus_location(self, upload_id: str, raw_query: str) -> None:
        signed = parse_signed_query(raw_query)
        if signed.params:
            raise SignatureInvalid()
        try:
            expires = int(signed.expires)
        except ValueError as exc:
            raise SignatureInvalid() from exc
        self.signer.verify(_tus_subject(upload_id), expires, {}, signed.signature,
                           now=self.clock().timestamp())

    async def forget_expired(self) -> int:
        return await self.catalog.delete_expired(now=self.clock())
