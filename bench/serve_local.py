"""Serving from local disk: full-file GETs vs nginx sendfile, 64 KiB Range GETs vs a bare
FastAPI FileResponse. Every figure is measured in this run on this machine. The full-file
case also serves the file from the bare FileResponse app: granian's own file path
(`http.response.pathsend`), the floor for any ASGI app on granian (no target).

    .venv/bin/python bench/serve_local.py [--seconds 3] [--rounds 5] [--only full|range]

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

from harness import (
    audiostore_serve,
    check_clean,
    cpu_seconds,
    granian_app,
    nginx_serving,
    table,
    workdir,
    write_wav,
    wrk,
)

FULL_TARGET = 0.6
RANGE_TARGET = 0.8
RANGE = "Range: bytes=1048576-1114111"  # 64 KiB, 1 MiB into the file


def run_cases(
    cases: dict[str, tuple[int, str, list[str]]], args: argparse.Namespace, connections: int
) -> dict[str, tuple[float, float]]:
    """Per case: median req/s and median server CPU ms per request over `args.rounds` rounds.
    The cases alternate within each round, so load from elsewhere on the machine hits baseline
    and candidates alike; the CPU cost per request does not depend on that load."""
    for name, (_, url, headers) in cases.items():  # warm up every server first
        check_clean(name, wrk(url, seconds=1, connections=connections, headers=headers))
    rps: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (pid, url, headers) in cases.items():
            before = cpu_seconds(pid)
            result = wrk(url, seconds=args.seconds, connections=connections, headers=headers)
            used = cpu_seconds(pid) - before
            check_clean(name, result)
            rps[name].append(result.requests_per_s)
            cpu[name].append(used * 1000 / max(1, result.requests))
    return {name: (statistics.median(rps[name]), statistics.median(cpu[name])) for name in cases}


def report(
    kind: str,
    results: dict[str, tuple[float, float]],
    bytes_per_req: int,
    unit: float,
    unit_name: str,
    rows: list[list[object]],
) -> tuple[float, float]:
    base_rps, base_cpu = next(iter(results.values()))
    for name, (r, c) in results.items():
        rows.append(
            [
                kind,
                name,
                f"{r:,.0f}",
                f"{r * bytes_per_req / unit:.2f} {unit_name}",
                f"{r / base_rps:.2f}x",
                f"{c:.3f}",
                f"{base_cpu / c:.2f}x",
            ]
        )
    return base_rps, base_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=3, help="wrk duration per case and round (default 3)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds; the median counts (default 5)"
    )
    parser.add_argument("--size-mb", type=float, default=5.0, help="file size in MB (default 5)")
    parser.add_argument(
        "--full-connections", type=int, default=8, help="wrk connections, full GETs"
    )
    parser.add_argument(
        "--range-connections", type=int, default=16, help="wrk connections, Range GETs"
    )
    parser.add_argument("--only", choices=["full", "range"], help="run one of the two benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)

    rows: list[list[object]] = []
    ratios: list[tuple[str, float, float, float]] = []
    floors: list[str] = []  # full GETs against granian's own file path (no target)
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

        bare = servers.enter_context(
            granian_app(
                work, "bench.bare_fileresponse_app:create_app", env={"BENCH_FILE": str(blob)}
            )
        )
        if args.only in (None, "full"):
            nginx = servers.enter_context(nginx_serving(work, blob.parent))
            res = run_cases(
                {
                    "nginx sendfile (baseline)": (nginx.pid, f"{nginx.url}/{blob.name}", []),
                    # granian's own floor for a file: what any ASGI app on it pays per byte
                    "bare FastAPI FileResponse": (bare.pid, f"{bare.url}/file", []),
                    "audiostore GET, API key": (svc.proc.pid, content, auth),
                    "audiostore GET, signed URL": (svc.proc.pid, signed, []),
                },
                args,
                args.full_connections,
            )
            base, base_cpu = report("full file", res, size, 1e9, "GB/s", rows)
            floor_rps, floor_cpu = res["bare FastAPI FileResponse"]
            for label, name in (
                ("API key", "audiostore GET, API key"),
                ("signed URL", "audiostore GET, signed URL"),
            ):
                ratios.append(
                    (
                        f"full GET, {label} vs nginx",
                        res[name][0] / base,
                        base_cpu / res[name][1],
                        FULL_TARGET,
                    )
                )
                floors.append(
                    f"full GET, {label} vs bare FileResponse: {res[name][0] / floor_rps:.2f}x "
                    f"throughput; {floor_cpu / res[name][1]:.2f}x its requests per CPU-second"
                )

        if args.only in (None, "range"):
            res = run_cases(
                {
                    "bare FastAPI FileResponse (baseline)": (bare.pid, f"{bare.url}/file", [RANGE]),
                    "audiostore Range, API key": (svc.proc.pid, content, [RANGE, *auth]),
                    "audiostore Range, signed URL": (svc.proc.pid, signed, [RANGE]),
                },
                args,
                args.range_connections,
            )
            base, base_cpu = report("64 KiB range", res, 65536, 1e6, "MB/s", rows)
            for label, name in (
                ("API key", "audiostore Range, API key"),
                ("signed URL", "audiostore Range, signed URL"),
            ):
                ratios.append(
                    (
                        f"64 KiB Range, {label} vs bare",
                        res[name][0] / base,
                        base_cpu / res[name][1],
                        RANGE_TARGET,
                    )
                )

    print(
        f"file: {size / 1e6:g} MB WAV; wrk -t1, {args.seconds} s per case, median of {args.rounds} "
        "alternating rounds; servers on CPU 1, wrk on CPU 0"
    )
    print(
        table(
            rows,
            [
                "case",
                "server",
                "req/s",
                "throughput",
                "vs baseline",
                "server CPU ms/req",
                "CPU efficiency vs baseline",
            ],
        )
    )
    print()
    for name, ratio, cpu_ratio, target in ratios:
        verdict = "meets" if ratio >= target else "MISSES"
        print(
            f"{name}: {ratio:.2f}x throughput ({verdict} target >= {target}x); "
            f"{cpu_ratio:.2f}x the baseline's requests per CPU-second"
        )
    for line in floors:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
