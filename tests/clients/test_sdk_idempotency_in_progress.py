"""An upload answered 409 `idempotency_key_in_progress` is sent again, after the service's
`Retry-After` and a bounded number of times, against a real `audiostore serve`.

"Still being stored" is the state a first request leaves in the catalogue while it runs: its
claim on the key, not yet stored (here: one that names no object yet, as a claim
whose request is still checking the bytes). The test puts a stored upload's claim back in that
state (in the server's own SQLite catalogue) and completes it again from the client's sleep,
so the retry meets both answers of a real service without racing a real first request.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_client_server import Served

from audiostore.client import AsyncClient, Client, ConflictError, RetryPolicy


def set_claim(served: Served, owner: str, key: str, audio_id: str | None) -> None:
    """The claim of `owner`'s `Idempotency-Key` `key`: None is "the first request is still
    being stored", an id "it stored this"."""
    with sqlite3.connect(served.proc.data_dir / "catalog.db", timeout=30) as db:
        changed = db.execute(
            "UPDATE idempotency_keys SET audio_id = ?, stored_at = CASE WHEN ? IS NULL THEN NULL "
            "ELSE created_at END WHERE owner = ? AND key = ?", (audio_id, audio_id, owner, key),
        ).rowcount
    assert changed == 1


def finishing_after(waits: list[float], n: int, finish: Callable[[], None]) -> Callable[[float], None]:
    """A sleep that records how long it was asked to wait, and finishes the first request
    on the `n`th wait (none are slept: the waits are only counted)."""
    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == n:
            finish()
    return sleep


def test_an_upload_in_progress_is_sent_again_until_the_first_one_is_stored(
    served: Served, tones: dict[str, Path]
) -> None:
    key = served.new_key("idem-wait")
    with Client(served.url, api_key=key) as c:
        first = c.upload(tones["wav"], collection="idem", idempotency_key="take-7")
    set_claim(served, "idem-wait", "take-7", None)
    waits: list[float] = []
    sleep = finishing_after(waits, 2, lambda: set_claim(served, "idem-wait", "take-7", first.id))
    with Client(served.url, api_key=key, sleep=sleep) as c:
        again = c.upload(tones["wav"], collection="idem", idempotency_key="take-7")
        assert again.id == first.id  # the first request's object, not a second one
        assert waits == [5.0, 5.0]  # the service's Retry-After, twice
        assert [o.id for o in c.list(collection="idem")] == [first.id]


def test_the_waits_are_bounded_in_count_and_length(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("idem-bounded")
    with Client(served.url, api_key=key) as c:
        c.upload(tones["wav"], idempotency_key="stuck")
    set_claim(served, "idem-bounded", "stuck", None)  # and it never finishes
    waits: list[float] = []
    policy = RetryPolicy(in_progress_attempts=4, max_backoff=2.0)
    with Client(served.url, api_key=key, retry=policy, sleep=waits.append) as c:
        with pytest.raises(ConflictError) as stuck:
            c.upload(tones["wav"], idempotency_key="stuck")
        assert stuck.value.code == "idempotency_key_in_progress"
        assert waits == [2.0, 2.0, 2.0]  # 4 tries; Retry-After 5 capped by max_backoff
        waits.clear()
        # a pipe cannot be sent again: its 409 is the answer at once
        with subprocess.Popen(["cat", str(tones["wav"])], stdout=subprocess.PIPE) as cat:
            assert cat.stdout is not None
            with pytest.raises(ConflictError):
                c.upload(cat.stdout, name="tone.wav", idempotency_key="stuck")
        assert waits == []


async def test_the_async_client_waits_with_the_same_flow(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("idem-async")
    async with AsyncClient(served.url, api_key=key) as c:
        first = await c.upload(tones["wav"], idempotency_key="a-1")
    set_claim(served, "idem-async", "a-1", None)
    waits: list[float] = []
    finish = finishing_after(waits, 1, lambda: set_claim(served, "idem-async", "a-1", first.id))

    async def sleep(seconds: float) -> None:
        finish(seconds)

    async with AsyncClient(served.url, api_key=key, sleep=sleep) as c:
        assert (await c.upload(tones["wav"], idempotency_key="a-1")).id == first.id
    assert waits == [5.0]
