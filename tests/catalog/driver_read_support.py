"""What the driver-read tests share: one call made with the driver reads and again with the
ORM, and a record of the SQL the driver reads send."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from audiostore.catalog import Catalog


async def both(catalog: Catalog, call: Any) -> tuple[Any, Any]:
    """`call(catalog)` with the driver reads, then with the ORM."""
    reads = catalog.database.reads
    assert reads is not None, "SQLite files and PostgreSQL get driver reads"
    fast = await call(catalog)
    catalog.database.reads = None
    try:
        slow = await call(catalog)
    finally:
        catalog.database.reads = reads
    return fast, slow


def record_statements(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any]]]:
    """The (SQL, arguments) the catalogue's driver reads send from now on, in order."""
    reads = catalog.database.reads
    assert reads is not None
    sent: list[tuple[str, list[Any]]] = []
    fetch = reads._fetch

    async def recording(sql: str, args: list[Any]) -> Sequence[Sequence[Any]]:
        sent.append((sql, list(args)))
        return await fetch(sql, args)

    monkeypatch.setattr(reads, "_fetch", recording)
    return sent
