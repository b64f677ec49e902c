"""A tus upload sent as parallel partial uploads plus a final upload (concatenation) vs one
plain tus upload of the same file, on local disk.

    .venv/bin/python bench/tus_concatenation.py [--size-mb 256] [--parts 2] [--chunk-mb 8] [--rounds 1]

The server (granian, 1 worker, pinned to CPU 1) gets a valid 16-bit WAV from this process
(CPU 0): once as one tus upload in `--chunk-mb` PATCHes, once as `--parts` partial uploads
sent at once from as many threads (each in `--chunk-mb` PATCHes) and then the final upload
(`Upload-Concat: final;...`), in alternating rounds; no `Upload-Checksum` (as tus-js-client
sends). Time is until the answer that names the stored object (the last PATCH's 204, the
final creation's 201); the final creation's own time (copy of the parts into one file,
`fdatasync`, sniff, full decode, store) is shown apart. RSS of the server's process tree is
sampled every 10 ms; growth is its peak minus the RSS before.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import CLIENT_CPU, RssSampler, audiostore_serve, table, workdir, write_wav
from tus_upload import tus_upload
from upload_memory import delete, wait_analysed

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK_TYPE = "application/offset+octet-stream"


def send_partial(url: str, auth: dict[str, str], path: Path, start: int, length: int, chunk: int,
                 out: list[str]) -> None:
    with httpx.Client(timeout=300) as c, path.open("rb") as f:
        made = c.post(f"{url}/v1/uploads", headers={
            **auth, "Upload-Concat": "partial", "Upload-Length": str(length)})
        made.raise_for_status()
        loc = made.headers["location"]
        f.seek(start)
        offset = 0
        while offset < length:
            data = f.read(min(chunk, length - offset))
            r = c.patch(url + loc, content=data, headers={
                **auth, "Content-Type": CHUNK_TYPE, "Upload-Offset": str(offset)})
            r.raise_for_status()
            offset = int(r.headers["upload-offset"])
        out.append(loc)


def concat_upload(url: str, key: str, path: Path, parts: int, chunk: int) -> tuple[float, float, str]:
    """(seconds until the final creation answered, seconds of that creation, the object's id)."""
    auth = {**TUS, "Authorization": f"Bearer {key}"}
    size = path.stat().st_size
    step = -(-size // parts)
    started = time.perf_counter()
    names: list[list[str]] = [[] for _ in range(parts)]
    threads = [
        threading.Thread(target=send_partial, args=(url, auth, path, i * step, min(step, size - i * step),
                                                    chunk, names[i]))
        for i in range(parts)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    locs = [n[0] for n in names]  # IndexError: a partial upload failed (its thread says why)
    final_started = time.perf_counter()
    r = httpx.post(f"{url}/v1/uploads", headers={**auth, "Upload-Concat": "final;" + " ".join(locs)},
                   timeout=600)
    r.raise_for_status()
    done = time.perf_counter()
    return done - started, done - final_started, r.headers["audiostore-audio-id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256, help="file size in MiB (default 256)")
    parser.add_argument("--parts", type=int, default=2, help="partial uploads sent at once (default 2)")
    parser.add_argument("--chunk-mb", type=int, default=8, help="PATCH size in MiB (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    rows: list[list[object]] = []
    with workdir(args.keep) as tmp:
        work = Path(tmp)
        source = write_wav(work / "big.wav", args.size_mb << 20)
        size = source.stat().st_size
        with audiostore_serve(work, env={"AUDIOSTORE_MAX_UPLOAD_BYTES": str(size * 2)}) as svc:
            for round_ in range(args.rounds):
                os.sync()
                plain_s, audio_id = tus_upload(svc.url, svc.key, source, args.chunk_mb << 20, checksum=False)
                wait_analysed(svc.url, svc.key, audio_id)
                delete(svc.url, svc.key, audio_id)
                os.sync()
                sampler = RssSampler(svc.proc.pid)
                base = sampler.current()
                with sampler:
                    concat_s, final_s, audio_id = concat_upload(svc.url, svc.key, source, args.parts,
                                                                args.chunk_mb << 20)
                growth = (sampler.peak - base) / 1e6
                wait_analysed(svc.url, svc.key, audio_id)
                delete(svc.url, svc.key, audio_id)
                rows.append([round_ + 1, f"{plain_s:.2f}", f"{size / plain_s / 1e6:,.0f}",
                             f"{concat_s:.2f}", f"{size / concat_s / 1e6:,.0f}", f"{final_s:.2f}",
                             f"{plain_s / concat_s:.2f}x", f"{growth:.1f}"])
    print(f"{size / 2**20:,.0f} MiB WAV; {args.parts} partial uploads at once vs one tus upload, "
          f"{args.chunk_mb} MiB PATCHes, no checksums; server on CPU 1, client on CPU 0")
    print(table(rows, ["round", "tus (s)", "tus MB/s", "concat (s)", "concat MB/s", "final creation (s)",
                       "concat vs tus", "concat peak RSS growth (MB)"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
