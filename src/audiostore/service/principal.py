"""Who is asking: the owner an API key (or a client token) belongs to, and what it may do.

An API key may do everything its owner may. A client token (`POST /v1/tokens`) carries a
`TokenGrant`: the scopes it was minted with, and optionally the collections it is limited to
and bounds for what it uploads. Each route names the scope it needs (`require`); the service
keeps the collection limits wherever a row is read, listed, written or deleted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import Forbidden, ScopeDenied

READ, UPLOAD, DELETE, LIST = "read", "upload", "delete", "list"
SCOPES = (READ, UPLOAD, DELETE, LIST)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What one client token allows; None for a bound means the server's own limit."""

    token_id: str
    scopes: frozenset[str]
    expires_at: datetime
    collections: frozenset[str] | None = None
    max_bytes: int | None = None
    formats: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    owner: str
    admin: bool = False
    key_id: str | None = None
    grant: TokenGrant | None = field(default=None)

    def scope(self, requested_owner: str | None = None) -> str | None:
        """The owner to filter by: own objects, or (admins only) a chosen owner or all (None).

        A non-admin key naming another owner is refused (403 `forbidden`) rather than
        answered with its own objects, so a client never mistakes its own list for bob's.
        """
        if self.admin:
            return requested_owner
        self._refuse_other(requested_owner)
        return self.owner

    def owner_for_new(self, requested_owner: str | None) -> str:
        """The owner a new object gets; a non-admin key naming another owner is 403."""
        if self.admin:
            return requested_owner or self.owner
        self._refuse_other(requested_owner)
        return self.owner

    def _refuse_other(self, requested_owner: str | None) -> None:
        if requested_owner and requested_owner != self.owner:
            raise Forbidden("Only an admin API key may act for another owner.")

    # --- client tokens ------------------------------------------------------------------
    def require(self, scope: str) -> None:
        """403 `scope_denied` unless an API key, or a token minted with `scope`."""
        if self.grant is not None and scope not in self.grant.scopes:
            raise ScopeDenied(f"This client token has no {scope!r} scope.")

    def sees_collection(self, collection: str) -> bool:
        """Whether objects of `collection` exist for this principal (others answer 404)."""
        return self.grant is None or self.grant.collections is None or collection in self.grant.collections

    def require_collection(self, collection: str) -> None:
        """403 `scope_denied` for a collection a token may not write to or list."""
        if not self.sees_collection(collection):
            raise ScopeDenied(f"This client token is limited to other collections than {collection!r}.")

    @property
    def collections(self) -> frozenset[str] | None:
        """The collections a token is limited to (None: every collection)."""
        return self.grant.collections if self.grant is not None else None

    def upload_limit(self, server_limit: int) -> tuple[int, str]:
        """The most bytes one upload may have, and what sets it (named in a 413): the server's
        limit, or a token's lower bound."""
        if self.grant is None or self.grant.max_bytes is None or self.grant.max_bytes >= server_limit:
            return server_limit, "AUDIOSTORE_MAX_UPLOAD_BYTES"
        return self.grant.max_bytes, "the client token's max_bytes"

    def formats_source(self) -> str:
        """What sets the accepted upload formats (named in a 415)."""
        if self.grant is None or self.grant.formats is None:
            return "AUDIOSTORE_ACCEPTED_FORMATS"
        return "the client token's formats"

    def accepted_formats(self, server_formats: Collection[str]) -> list[str]:
        """The upload formats accepted from this principal: the server's, within a token's."""
        if self.grant is None or self.grant.formats is None:
            return list(server_formats)
        return [f for f in server_formats if f in self.grant.formats]
