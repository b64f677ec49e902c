"""Server CPU per tus PATCH: the fixed cost a PATCH adds, apart from the bytes it carries.

    .venv/bin/python bench/tus_patch_overhead.py [--patches 200] [--kib 64] [--rounds 2]

One server (granian, 1 worker, pinned to CPU 1) and an upload that never completes (its
Upload-Length is larger than what is sent), so no ingest runs: `--patches` PATCHes of `--kib`
KiB each, one after the other on one keep-alive connection with TCP_NODELAY (as tus clients
send them); the server's CPU seconds (user + system of its process tree) divided by the
PATCH count (and its user and system parts apart: the system part moves with the machine's
memory pressure). Small PATCHes show the per-PATCH overhead (auth, middleware, the part's lock,
the row read, the offset write, the worker-thread hops); large ones add the bytes' cost.
Compare two versions of the code by running this once per checkout in turn (e.g. with
`PYTHONPATH=/other/checkout/src`): the figure is per server, not a ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import CLIENT_CPU, audiostore_serve, user_and_system_seconds, workdir, write_wav

TUS = {"Tus-Resumable": "1.0.0"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patches", type=int, default=200, help="PATCHes per round (default 200)")
    parser.add_argument("--kib", type=int, default=64, help="PATCH size in KiB (default 64)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measured rounds, after one warm-up (default 2)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    chunk = args.kib << 10
    results: list[str] = []
    with workdir(False) as tmp:
        work = Path(tmp)
        wav = write_wav(work / "head.wav", max(chunk, 1 << 20)).read_bytes()[:chunk]  # a valid head
        filler = bytes(chunk)
        env = {"AUDIOSTORE_MAX_UPLOAD_BYTES": str(4 << 30)}
        with audiostore_serve(work, env=env) as svc:
            auth = {**TUS, "Authorization": f"Bearer {svc.key}"}
            nodelay = httpx.HTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            with httpx.Client(timeout=60, transport=nodelay) as c:
                for round_ in range(args.rounds + 1):  # round 0 warms the server up
                    made = c.post(f"{svc.url}/v1/uploads",
                                  headers={**auth, "Upload-Length": str(args.patches * chunk + 1)})
                    made.raise_for_status()
                    loc = svc.url + made.headers["location"]
                    offset = 0
                    before, started = user_and_system_seconds(svc.proc.pid), time.perf_counter()
                    for i in range(args.patches):
                        r = c.patch(loc, content=filler if i else wav, headers={
                            **auth, "Content-Type": "application/offset+octet-stream",
                            "Upload-Offset": str(offset)})
                        r.raise_for_status()
                        offset = int(r.headers["upload-offset"])
                    after = user_and_system_seconds(svc.proc.pid)
                    user, system = ((a - b) / args.patches for a, b in zip(after, before, strict=True))
                    wall = (time.perf_counter() - started) / args.patches
                    if round_:
                        results.append(f"{(user + system) * 1e3:.2f} ms CPU = {user * 1e3:.2f} user"
                                       f" + {system * 1e3:.2f} system ({wall * 1e3:.2f} ms wall)")
                    c.delete(loc, headers=auth).raise_for_status()
    print(f"{args.patches} PATCHes of {args.kib} KiB, server CPU per PATCH: " + "; ".join(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
