"""What a real `audiostore serve` prints: an access line per request an operator can use, the
address it binds, and none of the noise (client disconnects, espeak's missing dictionaries,
asyncio's complaints on Ctrl-C)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audio_factory import make_tone
from server_process import ServerProcess

SEEKS = 6  # a player seeking: each request read a little, then the connection closed
ACCESS = re.compile(
    r"^\S+ access method=(?P<method>\S+) route=(?P<route>\S+) status=(?P<status>\d+) "
    r"bytes=(?P<bytes>\d+) duration_ms=(?P<ms>[\d.]+) owner=(?P<owner>\S+) "
    r"request_id=(?P<request_id>\S+) client=(?P<client>\S+)$",
    re.MULTILINE,
)


def ctrl_c(server: ServerProcess) -> str:
    """SIGINT to the whole process group, as a terminal's Ctrl-C; all it printed."""
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGINT)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass  # stop() below kills it; the assertions on the output then tell
    return server.stop()


def seek_like_a_player(url: str, audio_id: str, key: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        size = int(c.head(f"/v1/audio/{audio_id}/content").headers["content-length"])
        for n in range(SEEKS):
            start = size * n // SEEKS
            with c.stream("GET", f"/v1/audio/{audio_id}/content",
                          headers={"Range": f"bytes={start}-"}) as r:
                assert r.status_code == 206
                next(r.iter_raw(4096))  # and hang up, as a seeking player does


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Large enough (10 MB) that a request closed after 4 KiB is closed mid-answer.
    return make_tone(tmp_path_factory.mktemp("long") / "long.wav", "wav", seconds=60.0, channels=2)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, long_wav: Path) -> Iterator[dict[str, str]]:
    """One server used as in the issue (upload, seeks, voices, a request id), stopped by
    Ctrl-C; what it printed, and the ids involved."""
    data = tmp_path_factory.mktemp("logs") / "audiostore-data"
    server = ServerProcess(data, env={"AUDIOSTORE_PUBLIC_URL": "https://audio.example.test"})
    try:
        server.start()
        admin = (data / "admin.key").read_text().strip()
        made = httpx.post(f"{server.url}/v1/keys", json={"owner": "erin"},
                          headers={"Authorization": f"Bearer {admin}"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        with long_wav.open("rb") as f:
            up = httpx.post(f"{server.url}/v1/audio", headers={"Authorization": f"Bearer {key}"},
                            files={"file": ("long.wav", f, "audio/wav")}, timeout=60)
        assert up.status_code == 201, up.text
        audio_id = up.json()["id"]
        seek_like_a_player(server.url, audio_id, key)
        voices = httpx.get(f"{server.url}/v1/tts/voices", headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert voices.status_code == 200
        kept = httpx.get(f"{server.url}/v1/health", headers={"X-Request-Id": "trace-7f3a.1"})
        made_up = httpx.get(f"{server.url}/v1/health", headers={"X-Request-Id": "no spaces <here>"})
        output = ctrl_c(server)
    finally:
        server.stop()
    yield {"output": output, "port": str(server.port), "audio_id": audio_id,
           "kept_id": kept.headers.get("x-request-id", ""), "made_up_id": made_up.headers.get("x-request-id", "")}


def access_lines(output: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in ACCESS.finditer(output)]


def test_access_log_has_a_line_per_request_with_route_owner_bytes_and_request_id(logged: dict[str, str]) -> None:
    lines = access_lines(logged["output"])
    seeks = [line for line in lines if line["route"] == "/v1/audio/{audio_id}/content" and line["method"] == "GET"]
    assert len(seeks) == SEEKS
    for line in seeks:
        assert line["status"] == "206" and line["owner"] == "erin" and int(line["bytes"]) >= 4096
        assert line["client"] == "127.0.0.1" and float(line["ms"]) >= 0
    upload = next(line for line in lines if line["route"] == "/v1/audio" and line["method"] == "POST")
    assert upload["status"] == "201" and upload["owner"] == "erin"
    keys = next(line for line in lines if line["route"] == "/v1/keys")
    assert keys["owner"] == "admin"
    # never the concrete path or the query: no audio id, no signature in the log
    assert logged["audio_id"] not in "\n".join(m.group(0) for m in ACCESS.finditer(logged["output"]))
    # a client's request id is kept and echoed; a malformed one is replaced by one made up
    health = [line for line in lines if line["route"] == "/v1/health"][-2:]  # (start() polls it too)
    assert [h["request_id"] for h in health] == [logged["kept_id"], logged["made_up_id"]]
    assert logged["kept_id"] == "trace-7f3a.1"
    assert re.fullmatch(r"[0-9a-f]{32}", logged["made_up_id"])
    assert {h["owner"] for h in health} == {"-"}


def test_no_line_per_client_disconnect(logged: dict[str, str]) -> None:
    assert "transport error" not in logged["output"]
    assert "Closed(" not in logged["output"]


def test_no_espeak_dictionary_noise_when_listing_voices(logged: dict[str, str]) -> None:
    assert "Can't read dictionary file" not in logged["output"]
    assert "/v1/tts/voices" in logged["output"]  # the listing did run (its access line)


def test_ctrl_c_stops_without_asyncio_complaints(logged: dict[str, str]) -> None:
    output = logged["output"]
    assert "Task was destroyed" not in output and "Traceback" not in output
    assert "Granian shutdown completed" in output


def test_start_line_names_the_bound_address_and_the_public_url(logged: dict[str, str]) -> None:
    start = next(line for line in logged["output"].splitlines() if line.startswith("audiostore listening on"))
    assert f"127.0.0.1:{logged['port']}" in start
    assert "public URL https://audio.example.test" in start
    assert "https://audio.example.test/docs" in start


def test_access_log_off_by_setting_keeps_the_request_id(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "audiostore-data", env={"AUDIOSTORE_ACCESS_LOG": "false"})
    try:
        server.start()
        answers = [httpx.get(f"{server.url}/v1/health", headers={"X-Request-Id": f"quiet-{n}"}) for n in range(3)]
    finally:
        output = server.stop()
    assert [a.headers["x-request-id"] for a in answers] == ["quiet-0", "quiet-1", "quiet-2"]
    assert access_lines(output) == [] and " access method=" not in output
    assert "Granian shutdown completed" in output  # it did run and print its own lines


def test_ctrl_c_during_the_start_stops_it_cleanly(tmp_path: Path) -> None:
    """SIGINT the moment the start line is out (granian not yet listening, or just): the
    server stops, exit 0, no traceback, nothing left holding the port."""
    import sys
    import time

    from server_process import free_port

    port = free_port()
    env = {**os.environ, "AUDIOSTORE_DATA_DIR": str(tmp_path / "audiostore-data")}
    proc = subprocess.Popen([sys.executable, "-m", "audiostore", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, cwd=tmp_path)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # bounded: the process ends, or the deadline fails the test
            lines.append(line)
            if line.startswith("audiostore listening on"):
                os.killpg(proc.pid, signal.SIGINT)
                break
            assert time.monotonic() < deadline, "".join(lines)
        lines += proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "Task was destroyed" not in output and "KeyboardInterrupt" not in output
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_a_first_play_cut_short_is_one_warning_not_a_traceback(tmp_path: Path) -> None:
    """A first play the server breaks off mid-stream (here its processing limit, reached
    after the first bytes went out; a shutdown takes the same way) drops the connection with
    the body unfinished, so the client knows it is incomplete, and prints one warning line:
    no traceback, neither granian's nor the error handler's. One the client leaves prints
    none."""
    from clock_signal import write_clock_wav

    source = write_clock_wav(tmp_path / "clock-10min.wav", 600)  # ~8 s of CPU to encode here
    server = ServerProcess(tmp_path / "audiostore-data", env={
        "AUDIOSTORE_PROCESSING_CPU_SECONDS_MIN": "1", "AUDIOSTORE_PROCESSING_CPU_SECONDS_MAX": "1",
    })
    got = 0
    try:
        server.start()
        auth = {"Authorization": f"Bearer {(server.data_dir / 'admin.key').read_text().strip()}"}
        with source.open("rb") as f:
            up = httpx.post(f"{server.url}/v1/audio", headers=auth,
                            files={"file": (source.name, f, "audio/wav")}, timeout=60)
        assert up.status_code == 201, up.text
        # A listener that hangs up during a first play: quiet too (the encode is cancelled).
        with httpx.stream("GET", f"{server.url}/v1/audio/{up.json()['id']}/content?format=opus",
                          headers=auth, timeout=60) as r:
            assert r.status_code == 200 and next(r.iter_raw())
        url = f"{server.url}/v1/audio/{up.json()['id']}/content?format=mp3"
        with pytest.raises(httpx.RemoteProtocolError):  # the connection dropped mid-body
            with httpx.stream("GET", url, headers=auth, timeout=60) as r:
                assert r.status_code == 200  # the first bytes came before the limit
                for chunk in r.iter_raw():  # bounded: the limit ends it within a second of CPU
                    got += len(chunk)
        assert got > 0
        again = httpx.get(url, headers=auth, timeout=60)  # and it is still serving
        assert again.status_code == 422 and again.json()["error"]["code"] == "processing_limit"
    finally:
        output = server.stop()
    assert "Traceback" not in output and "Application callable raised" not in output, output
    assert "unhandled error" not in output, output
    assert len([line for line in output.splitlines() if "cut short" in line]) == 1, output
