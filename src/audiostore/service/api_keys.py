"""API keys: issued once in the clear, stored as SHA-256, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import uuid_utils

from ..blob_keys import check_key_part
from ..catalog import ApiKeyRow, Catalog
from ..errors import NotFound, Unauthorized
from .principal import Principal
from .text_field import check_text

KEY_PREFIX = "as"
MAX_LABEL_CHARS = 255  # the catalogue column's width


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: str
    row: ApiKeyRow


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyService:
    def __init__(self, catalog: Catalog, *, clock: Callable[[], datetime], cache_seconds: float) -> None:
        self.catalog = catalog
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def create(self, owner: str, *, admin: bool = False, label: str | None = None) -> IssuedKey:
        check_key_part(owner, what="owner")
        if label is not None:
            check_text(label, "label", max_chars=MAX_LABEL_CHARS)
        prefix = secrets.token_hex(6)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(
            id=str(uuid_utils.uuid7()), prefix=prefix, secret_sha256=_digest(key), owner=owner,
            admin=admin, label=label, created_at=self.clock(), revoked_at=None,
        )
        await self.catalog.api_keys.insert(row)
        return IssuedKey(key=key, row=row)

    async def authenticate(self, key: str | None) -> Principal:
        """The principal of a valid, unrevoked key; `Unauthorized` otherwise."""
        if not key:
            raise Unauthorized()
        digest = _digest(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            raise Unauthorized("The API key is malformed.")
        row = await self.catalog.api_keys.by_prefix(parts[1])
        if row is None or not hmac.compare_digest(row.secret_sha256, digest):
            raise Unauthorized("The API key is not valid.")
        if row.revoked_at is not None:
            raise Unauthorized("The API key has been revoked.")
        principal = Principal(owner=row.owner, admin=row.admin, key_id=row.id)
        if self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (principal, time.monotonic() + self.cache_seconds)
        return principal

    async def list(self, owner: str | None = None) -> list[ApiKeyRow]:
        return await self.catalog.api_keys.list(owner)

    async def revoke(self, key_id_or_prefix: str) -> None:
        if not await self.catalog.api_keys.revoke(key_id_or_prefix, now=self.clock()):
            raise NotFound(f"No active API key {key_id_or_prefix!r}.")
        self._cache.clear()

    async def has_any(self) -> bool:
        return await self.catalog.api_keys.count() > 0
