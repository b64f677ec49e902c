"""A tus upload in 8 MiB PATCHes vs one `POST /v1/audio` of the same file, on local disk.

    .venv/bin/python bench/tus_upload.py [--size-mb 1024] [--chunk-mb 8] [--rounds 1] [--no-checksum]

The server (granian, 1 worker, pinned to CPU 1) gets a valid 16-bit WAV from this process
(CPU 0): once as one raw `POST /v1/audio`, once through `/v1/uploads` (creation, then PATCHes
of `--chunk-mb` with `Upload-Checksum: sha256` unless `--no-checksum`, each read from the
file as it is sent), in alternating rounds. Time is until the answer that names the stored object (the 201 of the
POST, the last PATCH's 204), so both include sniff, the full decode and the store put. RSS of
the server's process tree is sampled every 10 ms; growth is its peak minus the RSS before.
Targets (shared/DESIGN.md): tus >= 0.9x the POST's throughput; peak RSS growth < 100 MB.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import CLIENT_CPU, RssSampler, audiostore_serve, table, workdir, write_wav
from upload_memory import delete, upload, wait_analysed

RATIO_TARGET = 0.9
RSS_TARGET_MB = 100
TUS = {"Tus-Resumable": "1.0.0"}


def tus_upload(url: str, key: str, path: Path, chunk: int, checksum: bool = True) -> tuple[float, str]:
    """(seconds until the last PATCH answered, the stored object's id)."""
    auth = {**TUS, "Authorization": f"Bearer {key}"}
    size = path.stat().st_size
    started = time.perf_counter()
    with httpx.Client(timeout=300) as c, path.open("rb") as f:
        made = c.post(f"{url}/v1/uploads", headers={**auth, "Upload-Length": str(size)})
        made.raise_for_status()
        loc = url + made.headers["location"]
        offset = 0
        while offset < size:
            data = f.read(chunk)
            headers = {**auth, "Content-Type": "application/offset+octet-stream",
                       "Upload-Offset": str(offset)}
            if checksum:
                digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
                headers["Upload-Checksum"] = f"sha256 {digest}"
            r = c.patch(loc, content=data, headers=headers)
            r.raise_for_status()
            offset = int(r.headers["upload-offset"])
    return time.perf_counter() - started, r.headers["audiostore-audio-id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--chunk-mb", type=int, default=8, help="PATCH size in MiB (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    parser.add_argument("--no-checksum", action="store_true",
                        help="PATCHes without Upload-Checksum (as tuspy and tus-js-client send)")
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
                _, post_s, obj = upload(svc.url, svc.key, source, "raw")
                wait_analysed(svc.url, svc.key, str(obj["id"]))
                delete(svc.url, svc.key, str(obj["id"]))
                os.sync()
                sampler = RssSampler(svc.proc.pid)
                base = sampler.current()
                with sampler:
                    tus_s, audio_id = tus_upload(svc.url, svc.key, source, args.chunk_mb << 20,
                                                 checksum=not args.no_checksum)
                growth = (sampler.peak - base) / 1e6
                wait_analysed(svc.url, svc.key, audio_id)
                delete(svc.url, svc.key, audio_id)
                ratio = post_s / tus_s
                ratios.append(ratio)
                growths.append(growth)
                rows.append([round_ + 1, f"{post_s:.2f}", f"{size / post_s / 1e6:,.0f}",
                             f"{tus_s:.2f}", f"{size / tus_s / 1e6:,.0f}", f"{ratio:.2f}x",
                             f"{growth:.1f}"])
    sums = "without checksums" if args.no_checksum else "with sha256 checksums"
    print(f"{size / 2**20:,.0f} MiB WAV; tus in {args.chunk_mb} MiB PATCHes {sums}; "
          "server on CPU 1, client on CPU 0")
    print(table(rows, ["round", "POST (s)", "POST MB/s", "tus (s)", "tus MB/s", "tus vs POST",
                       "tus peak RSS growth (MB)"]))
    best, worst = max(ratios), max(growths)
    print(f"throughput: best {best:.2f}x the POST ({'meets' if best >= RATIO_TARGET else 'MISSES'} "
          f"target >= {RATIO_TARGET}x); peak RSS growth at most {worst:.1f} MB "
          f"({'meets' if worst < RSS_TARGET_MB else 'MISSES'} target < {RSS_TARGET_MB} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
