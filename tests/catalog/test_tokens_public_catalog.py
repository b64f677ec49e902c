"""The catalogue's token revocations and public collections, on SQLite and real PostgreSQL:
revocations only move later (also when several servers revoke one owner at once), and a
collection is public until removed, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from audiostore.catalog import Catalog, upgrade
from audiostore.catalog.public_collections import PublicCollectionCatalog
from audiostore.catalog.token_revocations import TokenRevocationCatalog
from audiostore.errors import ConfigurationError
from audiostore.service.public_collections import parse_public_setting
from audiostore.service.token_revocations import TokenRevocations

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_revocations_only_move_later(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    rows = TokenRevocationCatalog(catalog.database)
    assert await rows.not_before("alice") is None
    assert await rows.raise_not_before("alice", NOW, now=NOW) == NOW
    assert await rows.raise_not_before("alice", NOW - timedelta(hours=1), now=NOW) == NOW
    later = NOW + timedelta(minutes=5)
    assert await rows.raise_not_before("alice", later, now=later) == later
    assert await rows.not_before("alice") == later
    # Several servers revoking one owner for the first time at once: one row, the latest moment.
    moments = [NOW + timedelta(seconds=i) for i in range(8)]
    await asyncio.gather(*(rows.raise_not_before("bob", m, now=m) for m in moments))
    assert await rows.not_before("bob") == moments[-1]
    assert await rows.since(NOW + timedelta(minutes=1)) == {"alice": later}
    assert set(await rows.since(NOW - timedelta(days=1))) == {"alice", "bob"}


async def test_a_servers_copy_is_read_at_most_once_per_bound(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    rows = TokenRevocationCatalog(catalog.database)
    ticks = [0.0]
    here = TokenRevocations(rows, cache_seconds=5, horizon_seconds=3600, clock=lambda: NOW,
                            monotonic=lambda: ticks[0])
    elsewhere = TokenRevocationCatalog(catalog.database)  # another server's writes
    assert await here.not_before("alice") is None
    await elsewhere.raise_not_before("alice", NOW, now=NOW)
    ticks[0] = 4.9
    assert await here.not_before("alice") is None  # within the bound: the copy stands
    ticks[0] = 5.0
    assert await here.not_before("alice") == NOW  # past it: read again
    await here.revoke("carol", NOW)  # made here: in the copy at once
    assert await here.not_before("carol") == NOW
    # Older than the longest token lifetime: covers only expired tokens, so never read.
    await elsewhere.raise_not_before("old", NOW - timedelta(hours=2), now=NOW)
    ticks[0] = 20.0
    assert await here.not_before("old") is None


async def test_public_collections_rows(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    rows = PublicCollectionCatalog(catalog.database)
    assert not await rows.is_public("alice", "cards")
    assert await rows.add("alice", "cards", now=NOW)
    assert not await rows.add("alice", "cards", now=NOW)  # once
    assert await rows.add("bob", "cards", now=NOW)
    assert await rows.is_public("alice", "cards") and not await rows.is_public("alice", "drafts")
    assert [(r.owner, r.collection) for r in await rows.of_owner(None)] == [("alice", "cards"), ("bob", "cards")]
    assert [r.owner for r in await rows.of_owner("bob")] == ["bob"]
    assert await rows.remove("alice", "cards")
    assert not await rows.remove("alice", "cards")
    assert not await rows.is_public("alice", "cards")


def test_the_public_setting_is_checked() -> None:
    assert parse_public_setting(["kids/cards", "radio/jingles"]) == {("kids", "cards"), ("radio", "jingles")}
    for bad in (["kids"], ["../x/cards"], ["kids/"], ["kids/a/b"]):
        with pytest.raises(ConfigurationError):
            parse_public_setting(bad)
