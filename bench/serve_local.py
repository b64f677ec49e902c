"""Serving from local disk: full-file GETs vs nginx sendfile, 64 KiB Range GETs vs a bare
FastAPI FileResponse. Every figure is measured in this run on this machine.

    .venv/bin/python bench/serve_local.py [--seconds 5] [--rounds 2] [--size-mb 5] [--only full|range]

Targets (shared/DESIGN.md): full-file GET >= 0.6x nginx; authenticated 64 KiB Range GET
>= 0.8x the bare FileResponse handler on the same server (granian, 1 worker).
The servers run on CPU 1, wrk (1 thread) on CPU 0; all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
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


def run_cases(cases: dict[str, tuple[str, list[str]]], args: argparse.Namespace, connections: int) -> dict[str, float]:
    """Median req/s per case over `args.rounds` rounds; the cases alternate within each round,
    so a burst of load from elsewhere on the machine hits baseline and candidates alike."""
    for name, (url, headers) in cases.items():  # warm up every server first
        check_clean(name, wrk(url, seconds=1, connections=connections, headers=headers))
    runs: dict[str, list[WrkResult]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (url, headers) in cases.items():
            result = wrk(url, seconds=args.seconds, connections=connections, headers=headers)
            check_clean(name, result)
            runs[name].append(result)
    return {name: statistics.median(r.requests_per_s for r in rs) for name, rs in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per case and round (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the median counts (default 2)")
    parser.add_argument("--size-mb", type=float, default=5.0, help="file size in MB (default 5)")
    parser.add_argument("--full-connections", type=int, default=8, help="wrk connections, full GETs")
    parser.add_argument("--range-connections", type=int, default=16, help="wrk connections, Range GETs")
    parser.add_argument("--only", choices=["full", "range"], help="run one of the two benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)

    rows: list[list[object]] = []
    ratios: list[tuple[str, float, float]] = []
    with workdir(args.keep) as tmp, contextlib.ExitStack() as servers:
        work = Path(tmp)
        source = write_wav(work / "bench.wav", int(args.size_mb * 1_000_000))
        svc = servers.enter_context(audiostore_serve(work))
        audio_id = svc.upload(source)
        blob = next((svc.data_dir / "blobs").rglob(f"{audio_id}.*"))  # the very file served
        size = blob.stat().st_size
        auth = [f"Authorization: Bearer {svc.key}"]
        content = f"{svc.url}/v1/audio/{audio_id}/content"
        signed = svc.signed_url(audio_id, expires_in=3600)

        if args.only in (None, "full"):
            nginx_url = servers.enter_context(nginx_serving(work, blob.parent))
            rps = run_cases({"nginx sendfile (baseline)": (f"{nginx_url}/{blob.name}", []),
                             "audiostore GET, API key": (content, auth),
                             "audiostore GET, signed URL": (signed, [])}, args, args.full_connections)
            base = rps["nginx sendfile (baseline)"]
            for name, r in rps.items():
                rows.append(["full file", name, f"{r:,.0f}", f"{r * size / 1e9:.2f} GB/s", f"{r / base:.2f}x"])
            ratios += [("full GET, API key vs nginx", rps["audiostore GET, API key"] / base, FULL_TARGET),
                       ("full GET, signed URL vs nginx", rps["audiostore GET, signed URL"] / base, FULL_TARGET)]

        if args.only in (None, "range"):
            bare_url = servers.enter_context(
                granian_app(work, "bench.bare_fileresponse_app:create_app", env={"BENCH_FILE": str(blob)}))
            rps = run_cases({"bare FastAPI FileResponse (baseline)": (f"{bare_url}/file", [RANGE]),
                             "audiostore Range, API key": (content, [RANGE, *auth]),
                             "audiostore Range, signed URL": (signed, [RANGE])}, args, args.range_connections)
            base = rps["bare FastAPI FileResponse (baseline)"]
            for name, r in rps.items():
                rows.append(["64 KiB range", name, f"{r:,.0f}", f"{r * 65536 / 1e6:.0f} MB/s", f"{r / base:.2f}x"])
            ratios += [("64 KiB Range, API key vs bare", rps["audiostore Range, API key"] / base, RANGE_TARGET),
                       ("64 KiB Range, signed URL vs bare", rps["audiostore Range, signed URL"] / base,
                        RANGE_TARGET)]

    print(f"file: {size / 1e6:g} MB WAV; wrk -t1, {args.seconds} s per case, median of {args.rounds} "
          "alternating rounds; servers on CPU 1, wrk on CPU 0")
    print(table(rows, ["case", "server", "req/s", "throughput", "vs baseline"]))
    print()
    for name, ratio, target in ratios:
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"{name}: {ratio:.2f}x ({verdict} target >= {target}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
