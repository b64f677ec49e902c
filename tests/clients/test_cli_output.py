"""The CLI reads well, for people and for scripts: ids whole on any terminal and in pipes,
an owner column for admins, `m:ss` durations, one (binary) unit system, flags without a type
in --help, a stopped upload that says how to finish it, errors that say where the key came
from in the CLI's own words, and a wrong URL that is not reported as missing audio. Each
runs the real `audiostore` command against the session's real server."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fixtures_client_server import Served

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def on_terminal(served: Served, *args: str, key: str, columns: int = 80) -> str:
    """`audiostore ARGS` with stdout on a real pseudo-terminal `columns` wide; its text."""
    master, slave = os.openpty()
    env = {**os.environ, "AUDIOSTORE_URL": served.url, "AUDIOSTORE_KEY": key, "COLUMNS": str(columns),
           "LINES": "50", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "audiostore", *args], stdout=slave,
                            stderr=subprocess.PIPE, env=env)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return ANSI.sub("", out.decode()).replace("\r\n", "\n")


def upload_one(served: Served, path: Path, key: str, collection: str) -> dict[str, object]:
    done = served.cli("upload", str(path), "--collection", collection, "--json", "--no-progress", key=key)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)[0]  # type: ignore[no-any-return]


def test_ls_ids_are_whole_on_a_narrow_terminal_and_in_a_pipe(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("cli-narrow")
    obj = upload_one(served, tones["wav"], key, "a-rather-long-collection-name")

    table = on_terminal(served, "ls", key=key, columns=80)
    assert str(obj["id"]) in table  # not `01a230...`
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "owner" not in table  # one owner: no column for it

    piped = served.cli("ls", key=key, env={"COLUMNS": "80"})
    assert piped.returncode == 0
    fields = piped.stdout.rstrip("\n").split("\t")
    assert fields[:6] == [obj["id"], "tone.wav", "a-rather-long-collection-name", "cli-narrow", "wav", "0:02.0"]
    assert fields[6].endswith(" KiB")


def test_key_ids_are_whole_too(served: Served) -> None:
    served.new_key("cli-key-ids")
    piped = served.cli("keys", "list", "--owner", "cli-key-ids", env={"COLUMNS": "80"})
    assert piped.returncode == 0, piped.stderr
    listed = json.loads(served.cli("keys", "list", "--owner", "cli-key-ids", "--json").stdout)
    assert [line.split("\t")[:3] for line in piped.stdout.splitlines()] == [
        [k["id"], k["prefix"], "cli-key-ids"] for k in listed
    ]


def test_admin_sees_an_owner_column(served: Served, tones: dict[str, Path]) -> None:
    for owner in ("cli-owner-a", "cli-owner-b"):
        upload_one(served, tones["opus"], served.new_key(owner), "shared-name")
    table = on_terminal(served, "ls", "--collection", "shared-name", key=served.admin_key, columns=120)
    header = next(line for line in table.splitlines() if " id " in f" {line} ")
    assert "owner" in header
    assert "cli-owner-a" in table and "cli-owner-b" in table


def test_durations_and_sizes_in_one_unit_system(served: Served, tones: dict[str, Path], tmp_path: Path) -> None:
    key = served.new_key("cli-units")
    up = served.cli("upload", str(tones["wav"]), key=key)
    assert up.returncode == 0, up.stderr
    obj_id, name, duration, size = up.stdout.rstrip("\n").split("\t")
    assert (name, duration) == ("tone.wav", "0:02.0")
    assert re.fullmatch(r"\d+\.\d KiB", size)
    assert size in up.stderr  # the progress bar says the same size, in the same unit
    assert " kB" not in up.stderr and " KB" not in up.stderr


def test_flags_show_no_type_in_help(served: Served) -> None:
    for command in (("upload",), ("ls",), ("reconcile",), ("tts",)):
        shown = served.cli(*command, "--help")
        assert shown.returncode == 0
        assert "<bool>" not in shown.stdout, shown.stdout
        assert "--json" in shown.stdout
    assert "<int>" in served.cli("upload", "--help").stdout  # options that take a value keep theirs


def test_errors_say_where_the_key_came_from(served: Served) -> None:
    from_env = served.cli("ls", key="as_nope_nope")
    assert from_env.returncode == 4 and "the key in AUDIOSTORE_KEY" in from_env.stderr
    from_flag = served.cli("ls", "--key", "as_nope_nope")
    assert from_flag.returncode == 4 and "the key given with --key" in from_flag.stderr
    clean = {k: v for k, v in os.environ.items() if k != "AUDIOSTORE_KEY"}
    none = subprocess.run([sys.executable, "-m", "audiostore", "ls"], capture_output=True, text=True,
                          timeout=120, env={**clean, "AUDIOSTORE_URL": served.url})
    assert none.returncode == 4 and "no key was given: set AUDIOSTORE_KEY or pass --key" in none.stderr
    assert len(none.stderr.strip().splitlines()) == 1


def test_errors_use_the_cli_words(served: Served) -> None:
    key = served.new_key("cli-words")
    bad = served.cli("tts", "hello", "--voice", "no-such-voice", key=key)
    assert bad.returncode == 6 and "unknown_voice" in bad.stderr
    assert "`audiostore tts --voices`" in bad.stderr and "/v1/" not in bad.stderr


class _NotAudiostore(BaseHTTPRequestHandler):
    """Some other web server: 404 pages in HTML."""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_DELETE = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotAudiostore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_wrong_url_is_not_missing_audio(served: Served, other_web_server: str, tones: dict[str, Path]) -> None:
    key = served.new_key("cli-wrong-url")
    obj = upload_one(served, tones["wav"], key, "kept")
    for wrong in (f"{served.url}/api", other_web_server):  # a wrong prefix; another server
        for command in (("info", str(obj["id"])), ("rm", str(obj["id"])), ("ls",)):
            done = served.cli(*command, "--url", wrong, key=key)
            assert done.returncode == 5, (command, wrong, done.stderr)
            assert "is not an audiostore service" in done.stderr and "--url" in done.stderr
            assert "not_found" not in done.stderr and "No such audio" not in done.stderr
    assert json.loads(served.cli("info", str(obj["id"]), key=key).stdout)["id"] == obj["id"]  # nothing removed
    missing = served.cli("info", "0190d6f0-0000-7000-8000-000000000000", key=key)
    assert missing.returncode == 3 and missing.stderr.strip() == "error: not_found: No such audio."


def test_a_stopped_upload_says_how_to_finish_and_the_advice_works(served: Served, tones: dict[str, Path]) -> None:
    """Ctrl-C during an upload to a service that has stopped answering (a socket that takes
    the bytes and never replies): the CLI says to run the same command with the key it used,
    and doing so stores the file once."""
    key = served.new_key("cli-stopped")
    stalled = socket.create_server(("127.0.0.1", 0))
    stalled.settimeout(60)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}"
    proc = subprocess.Popen([sys.executable, "-m", "audiostore", "upload", str(tones["flac"]), "--url", url],
                            env={**os.environ, "AUDIOSTORE_KEY": key}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        conn, _ = stalled.accept()
        conn.settimeout(60)
        assert conn.recv(4096)  # the upload is under way
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=60)
        conn.close()
    finally:
        stalled.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 130, errors
    assert out == "" and "Traceback" not in errors
    advice = re.search(r"tone\.flac: upload stopped \(Ctrl-C\)\. To finish, run the same command again "
                       r"with --idempotency-key (\S+) ", errors.replace("\n", " "))
    assert advice, errors
    again = ("upload", str(tones["flac"]), "--idempotency-key", advice.group(1), "--json", "--no-progress")
    first = served.cli(*again, key=key)
    second = served.cli(*again, key=key)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert json.loads(first.stdout)[0]["id"] == json.loads(second.stdout)[0]["id"]
    assert len(json.loads(served.cli("ls", "--json", key=key).stdout)) == 1  # stored once


def test_a_dropped_connection_says_how_to_finish(served: Served, tones: dict[str, Path]) -> None:
    """A service that drops every connection mid-upload: after the SDK's retries the CLI
    says the upload stopped and how to finish it."""
    dropping = socket.create_server(("127.0.0.1", 0))
    # Short accept waits, so the loop ends as soon as the CLI gives up rather than after
    # one long wait for a connection that never comes.
    dropping.settimeout(0.2)
    url = f"http://127.0.0.1:{dropping.getsockname()[1]}"
    proc = subprocess.Popen([sys.executable, "-m", "audiostore", "upload", str(tones["wav"]), str(tones["mp3"]),
                             "--url", url, "--idempotency-key", "take-7"],
                            env={**os.environ, "AUDIOSTORE_KEY": "as_any_key"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        dropped, deadline = 0, time.monotonic() + 60
        # the SDK tries 4 times; bounded in count and time either way
        while dropped < 10 and proc.poll() is None and time.monotonic() < deadline:
            try:
                conn, _ = dropping.accept()
            except TimeoutError:
                continue
            dropped += 1
            conn.settimeout(10)
            conn.recv(1024)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()  # a reset: the connection dropped
        out, errors = proc.communicate(timeout=120)
    finally:
        dropping.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 5, errors
    one_line = errors.replace("\n", " ")
    assert "tone.wav: upload stopped (the connection failed)" in one_line
    assert "--idempotency-key take-7" in one_line


def test_a_stopped_download_says_it_resumes(tmp_path: Path) -> None:
    """Ctrl-C while the service does not answer: the download says the same command goes on
    from FILE.part (the SDK resumes it), not a bare `Aborted!`."""
    stalled = socket.create_server(("127.0.0.1", 0))
    stalled.settimeout(60)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}"
    target = tmp_path / "take.wav"
    proc = subprocess.Popen([sys.executable, "-m", "audiostore", "download", "0190d6f0-0000-7000-8000-000000000000",
                             "-o", str(target), "--url", url],
                            env={**os.environ, "AUDIOSTORE_KEY": "as_any_key"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        conn, _ = stalled.accept()
        conn.settimeout(60)
        assert conn.recv(4096)  # the request is out; the answer never comes
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=60)
        conn.close()
    finally:
        stalled.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 130, errors
    assert out == "" and "Traceback" not in errors
    assert f"download stopped (Ctrl-C). Run the same command again: it goes on from {target}.part." in errors.replace("\n", "")
