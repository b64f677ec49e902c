"""The client commands run as a user would (subprocesses) against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fixtures_client_server import Served


@pytest.fixture(scope="module")
def user_key(served: Served) -> str:
    return served.new_key("cli-user")


def test_upload_many_ls_info_url_download_rm(served: Served, user_key: str, tones: dict[str, Path], tmp_path: Path) -> None:
    up = served.cli("upload", str(tones["wav"]), str(tones["mp3"]), "--collection", "cli-takes",
                    "--ttl", "3600", "--json", key=user_key)
    assert up.returncode == 0, up.stderr
    objs = json.loads(up.stdout)
    assert [o["name"] for o in objs] == ["tone.wav", "tone.mp3"]
    assert all(o["collection"] == "cli-takes" and o["expires_at"] for o in objs)
    assert "100%" in up.stderr  # the progress bars finished

    plain = served.cli("upload", str(tones["flac"]), "--collection", "cli-takes", "--no-progress", key=user_key)
    assert plain.returncode == 0 and plain.stderr == ""
    flac_id, flac_name = plain.stdout.split()[:2]
    assert flac_name == "tone.flac"

    listed = served.cli("ls", "--collection", "cli-takes", "--json", key=user_key)
    assert [o["id"] for o in json.loads(listed.stdout)] == [flac_id, objs[1]["id"], objs[0]["id"]]
    piped = served.cli("ls", "--collection", "cli-takes", "-q", "tone.mp", key=user_key)
    assert piped.returncode == 0 and "tone.mp3" in piped.stdout and "tone.wav" not in piped.stdout
    assert piped.stdout.split("\t")[:2] == [objs[1]["id"], "tone.mp3"]  # piped: tab-separated

    info = served.cli("info", objs[0]["id"], key=user_key)
    assert json.loads(info.stdout)["sha256"] == objs[0]["sha256"]
    assert "store" in json.loads(served.cli("info", key=user_key).stdout)

    signed = served.cli("url", objs[0]["id"], "--expires-in", "60", key=user_key).stdout.strip()
    assert httpx.get(signed).content == tones["wav"].read_bytes()

    out = tmp_path / "copy.wav"
    part = tmp_path / "copy.wav.part"
    part.write_bytes(tones["wav"].read_bytes()[:5000])  # a download cut earlier
    dl = served.cli("download", objs[0]["id"], "-o", str(out), key=user_key)
    assert dl.returncode == 0, dl.stderr
    assert dl.stdout.strip() == str(out) and out.read_bytes() == tones["wav"].read_bytes()
    assert not part.exists()

    rm = served.cli("rm", objs[0]["id"], objs[1]["id"], key=user_key)
    assert rm.returncode == 0 and rm.stdout.count("deleted") == 2
    gone = served.cli("rm", objs[0]["id"], flac_id, key=user_key)
    assert gone.returncode == 3 and "not_found" in gone.stderr and f"deleted {flac_id}" in gone.stdout


def test_exit_codes_and_one_line_errors(served: Served, user_key: str, tones: dict[str, Path], tmp_path: Path) -> None:
    missing = served.cli("info", "0190d6f0-0000-7000-8000-000000000000", key=user_key)
    assert missing.returncode == 3
    assert missing.stderr.strip() == "error: not_found: No such audio."

    denied = served.cli("ls", key="as_nope_nope")
    assert denied.returncode == 4 and denied.stderr.startswith("error: unauthorized")

    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio " * 300)
    refused = served.cli("upload", str(junk), str(tones["wav"]), "--json", "--no-progress", key=user_key)
    assert refused.returncode == 6
    assert "junk.wav: unsupported_format" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert [o["name"] for o in json.loads(refused.stdout)] == ["tone.wav"]  # the other file went on

    usage = served.cli("upload", str(tmp_path / "nope.wav"), key=user_key)
    assert usage.returncode == 2

    unreachable = served.cli("ls", key=user_key, env={"AUDIOSTORE_URL": "http://127.0.0.1:9"})
    assert unreachable.returncode == 5 and "error: Cannot reach" in unreachable.stderr

    via_flags = served.cli("ls", "--json", "--url", served.url, "--key", user_key,
                           env={"AUDIOSTORE_URL": "http://127.0.0.1:9", "AUDIOSTORE_KEY": "as_bad_bad"})
    assert via_flags.returncode == 0 and isinstance(json.loads(via_flags.stdout), list)


def test_ls_limit_and_url_json(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("cli-pager")
    for _ in range(3):
        assert served.cli("upload", str(tones["opus"]), "--no-progress", key=key).returncode == 0
    assert len(json.loads(served.cli("ls", "--json", "--limit", "2", key=key).stdout)) == 2
    all_items = json.loads(served.cli("ls", "--json", "--limit", "0", key=key).stdout)
    assert len(all_items) == 3
    signed = json.loads(served.cli("url", all_items[0]["id"], "--json", key=key).stdout)
    assert signed["id"] == all_items[0]["id"] and signed["url"].startswith("http")
