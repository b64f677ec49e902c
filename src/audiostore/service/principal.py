"""Who is asking: the owner an API key belongs to, and whether it may act for any owner."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Forbidden


@dataclass(frozen=True, slots=True)
class Principal:
    owner: str
    admin: bool = False
    key_id: str | None = None

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
