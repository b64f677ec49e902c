"""The access log's handler (`access_lines.py`): `<time> <message>` lines, held for a moment and
written in one go by a thread of its own (a stalled stdout never holds the caller), all written
on flush and close; the access-log layer hands it each line straight, skipping logging's
record, only when it is the logger's one destination."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest

from audiostore import access_lines
from audiostore.access_lines import FLUSH_SECONDS, AccessLineHandler, direct_writer
from conftest import Api

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"


class CountedWrites(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


Logged = tuple[logging.Logger, AccessLineHandler, CountedWrites]


@pytest.fixture
def access_logger() -> Iterator[Logged]:
    """`audiostore.access` set up as `audiostore serve` sets it up, writing to a string."""
    logger = logging.getLogger("audiostore.access")
    stream = CountedWrites()
    handler = AccessLineHandler(stream)
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield logger, handler, stream
    finally:
        handler.close()
        logger.handlers[:], logger.propagate, logger.level = saved


async def test_lines_are_written_together_a_moment_later(access_logger: Logged) -> None:
    _, handler, stream = access_logger
    for n in range(3):
        handler.write_line(f"access n={n}")
    assert stream.getvalue() == ""  # held
    deadline = time.monotonic() + 10
    while stream.getvalue().count("\n") < 3 and time.monotonic() < deadline:
        await asyncio.sleep(FLUSH_SECONDS)
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["access n=0", "access n=1", "access n=2"]
    assert all(re.fullmatch(STAMP, line.split(" ", 1)[0]) for line in lines), lines
    assert stream.writes == 1  # one write for the three


async def test_close_and_flush_write_what_is_held(access_logger: Logged) -> None:
    logger, handler, stream = access_logger
    handler.write_line("access first")
    logger.info("access via a record %s", "too")  # the usual path goes through emit
    handler.flush()
    assert [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()] == [
        "access first", "access via a record too",
    ]
    handler.write_line("access last")
    handler.close()
    assert stream.getvalue().endswith(" access last\n")


class StalledStream(io.StringIO):
    """A stdout that takes no lines until `go` is set (a pipe whose reader stopped)."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.entered = threading.Event()

    def write(self, s: str) -> int:
        self.entered.set()
        assert self.go.wait(30)
        return super().write(s)


def test_a_stalled_stdout_never_holds_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_lines, "MAX_PENDING_BYTES", 4096)
    stream = StalledStream()
    handler = AccessLineHandler(stream)
    try:
        handler.write_line("access one")
        assert stream.entered.wait(10)  # the writer thread is stuck in write

        def requests() -> None:
            for n in range(1000):
                handler.write_line(f"access more={n}")

        caller = threading.Thread(target=requests)
        caller.start()
        caller.join(10)
        assert not caller.is_alive()  # done while stdout still takes nothing
        stream.go.set()
        handler.flush()
        lines = stream.getvalue().splitlines()
        assert lines[0].endswith(" access one") and lines[1].endswith(" access more=0")
        # queued up to the bound, the rest counted in a line of their own
        kept = sum(" access more=" in line for line in lines)
        assert 10 < kept < 1000
        assert lines[-1].endswith(f" access lines dropped: {1000 - kept} (stdout did not keep up)")
    finally:
        stream.go.set()
        handler.close()


def test_the_direct_lane_only_when_the_handler_is_the_one_destination(access_logger: Logged) -> None:
    logger, handler, _ = access_logger
    logger.handlers[:] = [handler]  # pytest's own capture handlers taken off for the test
    assert direct_writer(logger) is handler
    logger.propagate = True  # records would also reach the root's handlers (caplog)
    assert direct_writer(logger) is None
    logger.propagate = False
    other = logging.NullHandler()  # pytest's caplog adds one such
    logger.addHandler(other)
    assert direct_writer(logger) is None
    logger.removeHandler(other)
    logger.setLevel(logging.WARNING)  # off
    assert direct_writer(logger) is None
    logger.setLevel(logging.INFO)
    handler.addFilter(lambda record: False)
    assert direct_writer(logger) is None


@pytest.mark.parametrize("backend", ["local"], indirect=True)
async def test_a_request_is_written_with_every_field_without_a_record(
    api: Api, access_logger: Logged, monkeypatch: pytest.MonkeyPatch,
) -> None:
    logger, handler, stream = access_logger
    logger.handlers[:] = [handler]  # pytest's own capture handlers taken off for the test
    records: list[logging.LogRecord] = []
    monkeypatch.setattr(logger, "handle", records.append)  # a LogRecord made would land here
    r = await api.http.get("/v1/info", headers={**api.alice, "X-Request-Id": "line-check-1"})
    assert r.status_code == 200
    handler.flush()
    line = stream.getvalue().splitlines()[-1]
    assert re.fullmatch(
        STAMP + r" access method=GET route=/v1/info status=200 bytes=\d+ duration_ms=\d+\.\d "
        r"owner=alice request_id=line-check-1 client=127\.0\.0\.1", line,
    ), line
    assert records == []
