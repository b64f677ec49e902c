"""Migration 0005 (tts_requests) upgrades and downgrades on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect

from audiostore.catalog import current_revision, downgrade, upgrade
from audiostore.runtime import Runtime
from audiostore.settings import Settings


async def tables(runtime: Runtime) -> set[str]:
    async with runtime.catalog.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_tts_requests_table_up_down_up(settings_factory: Callable[..., Settings]) -> None:
    runtime = Runtime.build(settings_factory())
    try:
        await runtime.migrate()
        assert "tts_requests" in await tables(runtime)
        await downgrade(runtime.catalog.engine, "0004")
        assert await current_revision(runtime.catalog.engine) == "0004"
        assert "tts_requests" not in await tables(runtime)
        await upgrade(runtime.catalog.engine)
        assert "tts_requests" in await tables(runtime)
        async with runtime.catalog.engine.connect() as conn:
            cols = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("tts_requests")})
        assert cols == {"owner", "request_hash", "audio_id", "engine", "phonemes", "segments", "created_at"}
    finally:
        await runtime.close()
