"""`audiostore queue ...` and `audiostore url --format`, run as a user would against a real
server: output, files written and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import httpx
import pytest

from audio_factory import make_tone
from fixtures_client_server import Served

from audiostore.client import Client


@pytest.fixture(scope="module")
def cli_queue(served: Served, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """A user key and two uploaded tones (1 s and 1.5 s)."""
    d = tmp_path_factory.mktemp("cli-q")
    key = served.new_key("cli-queues")
    with Client(served.url, api_key=key) as c:
        ids = [c.upload(make_tone(d / "one.wav", "wav", seconds=1.0)).id,
               c.upload(make_tone(d / "two.flac", "flac", seconds=1.5, frequency=550.0)).id]
    return key, ids


def _seconds(path: Path) -> float:
    with av.open(io.BytesIO(path.read_bytes()), format="mp3") as c:
        return sum(f.samples / f.sample_rate for f in c.decode(c.streams.audio[0]))


def test_queue_put_show_play_url_rm(served: Served, cli_queue: tuple[str, list[str]], tmp_path: Path) -> None:
    key, ids = cli_queue
    put = served.cli("queue", "put", "mix", *ids, ids[0], key=key)
    assert put.returncode == 0, put.stderr
    assert put.stdout.strip() == "mix  3 items  0:03.5"
    shown = served.cli("queue", "show", "mix", "--json", key=key)
    assert json.loads(shown.stdout)["audio_ids"] == [*ids, ids[0]]
    table = served.cli("queue", "show", "mix", key=key)
    assert table.returncode == 0 and "one.wav" in table.stdout and "two.flac" in table.stdout
    assert json.loads(served.cli("queue", "put", "mix", *ids, "--json", key=key).stdout)["audio_ids"] == ids

    whole = tmp_path / "whole.mp3"
    played = served.cli("queue", "play", "mix", "-o", str(whole), key=key)  # sequential: ends
    assert played.returncode == 0, played.stderr
    assert played.stdout.strip() == str(whole) and "of audio" in played.stderr  # progress on stderr
    assert _seconds(whole) == pytest.approx(2.5, abs=0.1)

    looped = tmp_path / "looped.mp3"
    bounded = served.cli("queue", "play", "mix", "-o", str(looped), "--mode", "loop", "--seconds", "6",
                         "--json", "--no-progress", key=key)
    assert bounded.returncode == 0, bounded.stderr
    facts = json.loads(bounded.stdout)
    assert facts["mode"] == "loop" and 6.0 <= facts["seconds"] < 6.05
    assert facts["bytes"] == looped.stat().st_size
    assert _seconds(looped) == pytest.approx(facts["seconds"], abs=0.03)

    signed = served.cli("queue", "url", "mix", "--mode", "endless-shuffle", "--expires-in", "60", key=key)
    assert signed.returncode == 0, signed.stderr
    with httpx.stream("GET", signed.stdout.strip(), timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
        assert next(r.iter_bytes(1024))
    as_json = json.loads(served.cli("queue", "url", "mix", "--json", key=key).stdout)
    assert as_json["mode"] == "sequential" and as_json["url"].startswith("http")

    rm = served.cli("queue", "rm", "mix", key=key)
    assert rm.returncode == 0 and rm.stdout.strip() == "deleted queue mix"
    again = served.cli("queue", "rm", "mix", key=key)
    assert again.returncode == 3 and again.stderr.strip() == "error: not_found: No such queue."


def test_queue_errors_and_exit_codes(served: Served, cli_queue: tuple[str, list[str]], tmp_path: Path) -> None:
    key, ids = cli_queue
    out = tmp_path / "never.mp3"
    for args in (("show", "nope"), ("play", "nope", "-o", str(out)), ("url", "nope")):
        r = served.cli("queue", *args, key=key)
        assert r.returncode == 3 and r.stderr.strip() == "error: not_found: No such queue.", args
    assert not out.exists()  # nothing written when the stream did not open
    bad_id = served.cli("queue", "put", "q", "0190d6f0-0000-7000-8000-000000000000", key=key)
    assert bad_id.returncode == 6 and "validation_failed" in bad_id.stderr
    bad_mode = served.cli("queue", "play", "q", "-o", str(out), "--mode", "backwards", key=key)
    assert bad_mode.returncode == 2 and "backwards" in bad_mode.stderr
    denied = served.cli("queue", "show", "q", key="as_nope_nope")
    assert denied.returncode == 4 and denied.stderr.startswith("error: unauthorized")


def test_url_with_a_rendition(served: Served, cli_queue: tuple[str, list[str]]) -> None:
    key, ids = cli_queue
    r = served.cli("url", ids[1], "--format", "mp3", "--bitrate", "64k", "--json", key=key)
    assert r.returncode == 0, r.stderr
    signed = json.loads(r.stdout)
    fetched = httpx.get(signed["url"])
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "audio/mpeg"
    with av.open(io.BytesIO(fetched.content), format="mp3") as c:
        assert c.streams.audio[0].bit_rate == 64_000

    refused = served.cli("url", ids[1], "--format", "mp4", key=key)
    assert refused.returncode == 6 and refused.stderr.startswith("error: unknown_format")
    usage = served.cli("url", ids[1], "--bitrate", "64k", key=key)
    assert usage.returncode == 2 and "need --format" in usage.stderr
