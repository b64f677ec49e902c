"""Serving from local disk: full-file GETs vs nginx sendfile, 64 KiB Range GETs vs a bare
FastAPI FileResponse. Every figure is measured in this run on this machine.

    .venv/bin/python bench/serve_local.py [--seconds 8] [--size-mb 5]

Targets (shared/DESIGN.md): full-file GET >= 0.6x nginx; authenticated 64 KiB Range GET
>= 0.8x the bare FileResponse handler on the same server (granian, 1 worker).
The servers run on CPU 1, wrk (1 thread) on CPU 0; all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    WrkResult,
    audiostore_serve,
    check_clean,
    granian_app,
    nginx_serving,
    table,
    workdir,
    wrk,
    write_wav,
)

FULL_TARGET = 0.6
RANGE_TARGET = 0.8
RANGE = "Range: bytes=1048576-1114111"  # 64 KiB, 1 MiB into the file


def measure(name: str, url: str, args: argparse.Namespace, connections: int, headers: list[str]) -> WrkResult:
    wrk(url, seconds=1, connections=connections, headers=headers)  # warm up
    result = wrk(url, seconds=args.seconds, connections=connections, headers=headers)
    check_clean(name, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per case (default 8)")
    parser.add_argument("--size-mb", type=float, default=5.0, help="file size in MB (default 5)")
    parser.add_argument("--full-connections", type=int, default=8, help="wrk connections, full GETs")
    parser.add_argument("--range-connections", type=int, default=16, help="wrk connections, Range GETs")
    parser.add_argument("--only", choices=["full", "range"], help="run one of the two benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)

    with workdir(args.keep) as tmp:
        work = Path(tmp)
        source = write_wav(work / "bench.wav", int(args.size_mb * 1_000_000))
        with audiostore_serve(work) as svc:
            audio_id = svc.upload(source)
            blob = next((svc.data_dir / "blobs").rglob(f"{audio_id}.*"))  # the very file served
            auth = [f"Authorization: Bearer {svc.key}"]
            content = f"{svc.url}/v1/audio/{audio_id}/content"
            signed = svc.signed_url(audio_id, expires_in=3600)
            rows: list[list[object]] = []
            ratios: list[tuple[str, float, float]] = []

            if args.only in (None, "full"):
                with nginx_serving(work, blob.parent) as nginx_url:
                    base = measure("nginx", f"{nginx_url}/{blob.name}", args, args.full_connections, [])
                a = measure("audiostore key", content, args, args.full_connections, auth)
                s = measure("audiostore signed", signed, args, args.full_connections, [])
                for name, r in (("nginx sendfile (baseline)", base), ("audiostore GET, API key", a),
                                ("audiostore GET, signed URL", s)):
                    rows.append(["full", name, f"{r.requests_per_s:,.0f}", f"{r.bytes_per_s / 1e9:.2f} GB/s",
                                 f"{r.bytes_per_s / base.bytes_per_s:.2f}x"])
                ratios += [("full GET, API key vs nginx", a.bytes_per_s / base.bytes_per_s, FULL_TARGET),
                           ("full GET, signed URL vs nginx", s.bytes_per_s / base.bytes_per_s, FULL_TARGET)]

            if args.only in (None, "range"):
                with granian_app(work, "bench.bare_fileresponse_app:create_app",
                                 env={"BENCH_FILE": str(blob)}) as bare_url:
                    base = measure("bare", f"{bare_url}/file", args, args.range_connections, [RANGE])
                a = measure("range key", content, args, args.range_connections, [RANGE, *auth])
                s = measure("range signed", signed, args, args.range_connections, [RANGE])
                for name, r in (("bare FastAPI FileResponse (baseline)", base),
                                ("audiostore Range, API key", a), ("audiostore Range, signed URL", s)):
                    rows.append(["64 KiB range", name, f"{r.requests_per_s:,.0f}",
                                 f"{r.bytes_per_s / 1e6:.0f} MB/s", f"{r.requests_per_s / base.requests_per_s:.2f}x"])
                ratios += [("64 KiB Range, API key vs bare", a.requests_per_s / base.requests_per_s, RANGE_TARGET),
                           ("64 KiB Range, signed URL vs bare", s.requests_per_s / base.requests_per_s,
                            RANGE_TARGET)]

    print(f"file: {args.size_mb:g} MB WAV; wrk -t1, {args.seconds} s per case; server on CPU 1, wrk on CPU 0")
    print(table(rows, ["case", "server", "req/s", "throughput", "vs baseline"]))
    print()
    for name, ratio, target in ratios:
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"{name}: {ratio:.2f}x ({verdict} target >= {target}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
