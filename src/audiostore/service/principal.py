"""Who is asking: the owner an API key belongs to, and whether it may act for any owner."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    owner: str
    admin: bool = False
    key_id: str | None = None

    def scope(self, requested_owner: str | None = None) -> str | None:
        """The owner to filter by: own objects, or (admins only) a chosen owner or all (None)."""
        if self.admin:
            return requested_owner
        return self.owner

    def owner_for_new(self, requested_owner: str | None) -> str:
        return requested_owner if (self.admin and requested_owner) else self.owner
