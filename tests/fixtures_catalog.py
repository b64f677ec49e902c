"""An empty catalogue on SQLite and on PostgreSQL (the `catalog` fixture), for migration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audiostore.catalog import Catalog, create_engine
from audiostore.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
async def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Catalog]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    c = Catalog(create_engine(Settings(data_dir=tmp_path, database_url=url).resolved_database_url))
    try:
        yield c
    finally:
        await c.close()
