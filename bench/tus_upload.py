"""A tus upload in 8 MiB PATCHes vs one `POST /v1/audio` of the same file, on local disk.

    .venv/bin/python bench/tus_upload.py [--size-mb 1024] [--chunk-mb 8] [--rounds 1] [--no-checksum]

The server (granian, 1 worker, pinned to CPU 1) gets a valid 16-bit WAV from this process
(CPU 0): once as one raw `POST /v1/audio`, once through `/v1/uploads` (creation, then PATCHes
of `--chunk-mb` with `Upload-Checksum: sha256` unless `--no-checksum`, each read and hashed
one chunk ahead on a thread while the PATCH before it is sent; each sent in 1 MiB pieces as
the POST's body is), in alternating rounds. Time is until the answer that names the stored object (the 201 of the
POST, the last PATCH's 204), so both include sniff, the full decode and the store put. RSS of
the server's process tree is sampled every 10 ms; growth is its peak minus the RSS before.
The server's CPU time (user + system, and the user part apart: the system part moves with the
machine's memory pressure) per upload is printed too: on a shared machine it is the figure
that other load inflates least; so is this client's, which the server waits on.
Both uploads are sent with `--client`: `http.client` by default (one keep-alive connection
with TCP_NODELAY, the body handed to the socket piece by piece: what requests/urllib3, and so
tuspy, do), or `httpx` (the SDK's client: ~0.2 s of this process's CPU more per GiB in
8 MiB PATCHes).
Targets (shared/DESIGN.md): tus >= 0.9x the POST's throughput; peak RSS growth < 100 MB.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import (
    CLIENT_CPU, RssSampler, audiostore_serve, table, user_and_system_seconds, workdir, write_wav,
)
from upload_memory import delete, upload, wait_analysed

RATIO_TARGET = 0.9
RSS_TARGET_MB = 100
TUS = {"Tus-Resumable": "1.0.0"}


PIECE = 1 << 20  # what the POST's body iterator reads and sends at a time (upload_memory.CHUNK)


def _pieces(f: BinaryIO, n: int) -> Iterator[bytes]:
    """The next `n` bytes of `f` in 1 MiB pieces, read as they are sent (as the POST does)."""
    while n > 0 and (piece := f.read(min(PIECE, n))):
        n -= len(piece)
        yield piece


def _chunks(path: Path, chunk: int, checksum: bool) -> Iterator[tuple[int, Iterator[bytes], str | None]]:
    """(length, body, `Upload-Checksum`) of each PATCH, the body in 1 MiB pieces.

    Not one 8 MiB `bytes` per PATCH: a fresh 8 MiB buffer per chunk costs the allocator a new
    mapping (8 MiB of page faults each time), and httpx's h11 joins a whole `content=` body
    into one more 8 MiB copy before its `sendall`. That cost this client more than twice its
    POST's CPU per GiB, on a CPU shared with other load, and the server idled waiting for it.
    Without a checksum the pieces are read as they are sent, as the POST's body is (and as a
    real client costs: tus-js-client sends a slice of the file, tuspy hands its chunk to
    http.client's `sendall` without a copy). With one, the digest must precede the body: the
    chunk is read and hashed on a worker thread one chunk ahead, so that hashing overlaps the
    server's work on the chunk before (hashlib releases the GIL)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if not checksum:
            for start in range(0, size, chunk):
                n = min(chunk, size - start)
                yield n, _pieces(f, n), None  # consumed whole before the next is made
            return

        def read(at: int) -> tuple[list[bytes], str]:
            f.seek(at)
            pieces = list(_pieces(f, min(chunk, size - at)))
            digest = hashlib.sha256()
            for piece in pieces:
                digest.update(piece)
            return pieces, f"sha256 {base64.b64encode(digest.digest()).decode()}"

        with ThreadPoolExecutor(1) as pool:
            ahead = pool.submit(read, 0)
            for start in range(0, size, chunk):
                pieces, digest = ahead.result()
                if start + chunk < size:
                    ahead = pool.submit(read, start + chunk)
                yield sum(map(len, pieces)), iter(pieces), digest


def tus_upload(url: str, key: str, path: Path, chunk: int, checksum: bool = True,
               client: str = "httpx") -> tuple[float, str]:
    """(seconds until the last PATCH answered, the stored object's id), sent with `client`."""
    if client == "http.client":
        return _tus_upload_http_client(url, key, path, chunk, checksum)
    return _tus_upload_httpx(url, key, path, chunk, checksum)


def _connection(url: str) -> http.client.HTTPConnection:
    """One keep-alive connection with TCP_NODELAY, as requests/urllib3 (so tuspy) open."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _send(conn: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str],
          body: Iterator[bytes] = iter(())) -> tuple[http.client.HTTPResponse, bytes]:
    """A request whose body goes out piece by piece as read; its answer and the answer's body."""
    conn.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    for piece in body:
        conn.send(piece)
    answer = conn.getresponse()
    content = answer.read()
    if answer.status >= 400:
        raise RuntimeError(f"{method} {target}: {answer.status} {content[:200]!r}")
    return answer, content


def _tus_upload_http_client(url: str, key: str, path: Path, chunk: int,
                            checksum: bool) -> tuple[float, str]:
    auth = {**TUS, "Authorization": f"Bearer {key}"}
    size = path.stat().st_size
    started = time.perf_counter()
    conn = _connection(url)
    try:
        made, _ = _send(conn, "POST", "/v1/uploads", {**auth, "Upload-Length": str(size)})
        loc = made.getheader("location") or ""
        offset = 0
        answer = made
        for length, body, digest in _chunks(path, chunk, checksum):
            headers = {**auth, "Content-Type": "application/offset+octet-stream",
                       "Content-Length": str(length), "Upload-Offset": str(offset)}
            if digest is not None:
                headers["Upload-Checksum"] = digest
            answer, _ = _send(conn, "PATCH", loc, headers, body)
            offset = int(answer.getheader("upload-offset") or -1)
    finally:
        conn.close()
    assert offset == size, (offset, size)
    return time.perf_counter() - started, answer.getheader("audiostore-audio-id") or ""


def post_upload(url: str, key: str, path: Path, client: str) -> tuple[float, dict[str, object]]:
    """(seconds until the 201, the audio object) of one raw `POST /v1/audio`, sent with
    `client` in 1 MiB pieces."""
    if client == "httpx":
        _, seconds, obj = upload(url, key, path, "raw")
        return seconds, obj
    size = path.stat().st_size
    started = time.perf_counter()
    conn = _connection(url)
    try:
        with path.open("rb") as f:
            answer, content = _send(conn, "POST", f"/v1/audio?name={path.name}", {
                "Authorization": f"Bearer {key}", "Content-Type": "audio/wav",
                "Content-Length": str(size)}, _pieces(f, size))
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    assert answer.status == 201, answer.status
    stored: dict[str, object] = json.loads(content)
    return seconds, stored


def _tus_upload_httpx(url: str, key: str, path: Path, chunk: int, checksum: bool) -> tuple[float, str]:
    auth = {**TUS, "Authorization": f"Bearer {key}"}
    size = path.stat().st_size
    started = time.perf_counter()
    # TCP_NODELAY, as browsers and requests/urllib3 (so tuspy) set it. httpcore (>= 0.17.2)
    # sets it on every socket anyway, so this only says so; the SDK relies on that default
    # (tests/clients/test_sdk_tcp_nodelay.py reads the option back from a real connection).
    nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(timeout=300, transport=nodelay) as c:
        made = c.post(f"{url}/v1/uploads", headers={**auth, "Upload-Length": str(size)})
        made.raise_for_status()
        loc = url + made.headers["location"]
        offset = 0
        for length, body, digest in _chunks(path, chunk, checksum):
            headers = {**auth, "Content-Type": "application/offset+octet-stream",
                       "Content-Length": str(length), "Upload-Offset": str(offset)}
            if digest is not None:
                headers["Upload-Checksum"] = digest
            r = c.patch(loc, content=body, headers=headers)
            r.raise_for_status()
            offset = int(r.headers["upload-offset"])
    assert offset == size, (offset, size)
    return time.perf_counter() - started, r.headers["audiostore-audio-id"]


def _own_cpu() -> float:
    """This process's CPU seconds (user + system, its read-ahead thread included)."""
    t = os.times()
    return t.user + t.system


def _spent(before: tuple[float, float], after: tuple[float, float]) -> tuple[float, float]:
    return after[0] - before[0], after[1] - before[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--chunk-mb", type=int, default=8, help="PATCH size in MiB (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    parser.add_argument("--no-checksum", action="store_true",
                        help="PATCHes without Upload-Checksum (as tuspy and tus-js-client send)")
    parser.add_argument("--client", choices=["http.client", "httpx"], default="http.client",
                        help="the HTTP client both uploads are sent with (default http.client, "
                             "what requests/urllib3 and so tuspy send with; or httpx, the SDK's)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    rows: list[list[object]] = []
    ratios: list[float] = []
    growths: list[float] = []
    with workdir(args.keep) as tmp:
        work = Path(tmp)
        source = write_wav(work / "big.wav", args.size_mb << 20)
        small = write_wav(work / "small.wav", 1 << 20)
        size = source.stat().st_size
        env = {"AUDIOSTORE_MAX_UPLOAD_BYTES": str(size * 2)}
        with audiostore_serve(work, env=env) as svc:
            _, _, warm = upload(svc.url, svc.key, small, "raw")
            delete(svc.url, svc.key, str(warm["id"]))
            for round_ in range(args.rounds):
                os.sync()
                # The RSS sampler runs during both uploads: it costs this process (the client,
                # whose sends the server waits on) ~0.4-0.6 s of CPU a GiB, so sampling only
                # one of them would slow that one alone.
                post_sampler = RssSampler(svc.proc.pid)
                cpu_before, mine = user_and_system_seconds(svc.proc.pid), _own_cpu()
                with post_sampler:
                    post_s, obj = post_upload(svc.url, svc.key, source, args.client)
                post_user, post_sys = _spent(cpu_before, user_and_system_seconds(svc.proc.pid))
                post_client = _own_cpu() - mine
                wait_analysed(svc.url, svc.key, str(obj["id"]))
                delete(svc.url, svc.key, str(obj["id"]))
                os.sync()
                sampler = RssSampler(svc.proc.pid)
                base = sampler.current()
                cpu_before, mine = user_and_system_seconds(svc.proc.pid), _own_cpu()
                with sampler:
                    tus_s, audio_id = tus_upload(svc.url, svc.key, source, args.chunk_mb << 20,
                                                 checksum=not args.no_checksum,
                                                 client=args.client)
                tus_user, tus_sys = _spent(cpu_before, user_and_system_seconds(svc.proc.pid))
                tus_client = _own_cpu() - mine
                growth = (sampler.peak - base) / 1e6
                wait_analysed(svc.url, svc.key, audio_id)
                delete(svc.url, svc.key, audio_id)
                ratio = post_s / tus_s
                ratios.append(ratio)
                growths.append(growth)
                rows.append([round_ + 1, f"{post_s:.2f}", f"{size / post_s / 1e6:,.0f}",
                             f"{tus_s:.2f}", f"{size / tus_s / 1e6:,.0f}", f"{ratio:.2f}x",
                             f"{growth:.1f}", f"{post_user + post_sys:.2f}", f"{tus_user + tus_sys:.2f}",
                             f"{post_user:.2f} / {tus_user:.2f}",
                             f"{post_client:.2f}", f"{tus_client:.2f}"])
    sums = "without checksums" if args.no_checksum else "with sha256 checksums"
    print(f"{size / 2**20:,.0f} MiB WAV; tus in {args.chunk_mb} MiB PATCHes {sums}; "
          f"both sent with {args.client}; server on CPU 1, client on CPU 0")
    print(table(rows, ["round", "POST (s)", "POST MB/s", "tus (s)", "tus MB/s", "tus vs POST",
                       "tus peak RSS growth (MB)", "server CPU POST (s)", "server CPU tus (s)",
                       "of it user POST / tus (s)",
                       "client CPU POST (s)", "client CPU tus (s)"]))
    best, lowest, worst = max(ratios), min(ratios), max(growths)
    meeting = sum(r >= RATIO_TARGET for r in ratios)
    print(f"throughput: best {best:.2f}x the POST, worst {lowest:.2f}x (target >= {RATIO_TARGET}x "
          f"met in {meeting} of {len(ratios)} rounds); "
          f"peak RSS growth at most {worst:.1f} MB "
          f"({'meets' if worst < RSS_TARGET_MB else 'MISSES'} target < {RSS_TARGET_MB} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
