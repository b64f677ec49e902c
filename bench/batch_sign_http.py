"""Batch signing over HTTP (`POST /v1/urls`, 1000 ids a request) vs boto3 in process, per URL.

    .venv/bin/python bench/batch_sign_http.py [--seconds 3] [--rounds 3] [--batch 1000]

Two `audiostore serve` (granian, 1 worker, SQLite), one after the other on CPU 1, with wrk
(1 thread, 2 connections) on CPU 0:
- S3 direct mode on a real SeaweedFS (`AUDIOSTORE_SIGNED_URLS=direct`): every URL is a SigV4
  presigned GET, as boto3's;
- service-signed URLs (`AUDIOSTORE_SIGNED_URLS=proxy` on the same bucket): an HMAC URL
  that streams through audiostore.
Rows are inserted straight into the catalogue (the fill of catalog_list_search.py); signing
needs no blob. The baseline is boto3's `generate_presigned_url` for the same keys, in this
process, pinned to CPU 0 (the client's core; the servers are stopped by then). Per URL over
HTTP = wall time / URLs answered (wrk's req/s x batch), everything in: parsing the ids, the
key check, the SELECT of 1000 rows, signing, JSON; and the server's CPU time (process and
workers, psutil) / URLs answered, against boto3's CPU time per URL (`time.process_time`): on
a shared machine the CPU figures are the steadier pair. Best of `--rounds` each.
Targets (shared/DESIGN.md): >= 10x boto3 per URL in direct mode, >= 30x service-signed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from fixtures_seaweedfs import start_seaweedfs  # noqa: E402
from harness import CLIENT_CPU, audiostore_serve, cpu_seconds, table  # noqa: E402
from json_routes import OWNER, Case, fill, lua, row_id, wrk_run  # noqa: E402

from audiostore.settings import Settings  # noqa: E402


def boto3_cost(boto: object, bucket: str, keys: list[str], seconds: float) -> tuple[float, float]:
    """boto3's presigner, one thread: (wall us, CPU us) per URL."""
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for key in keys[:200]:
            boto.generate_presigned_url(  # type: ignore[attr-defined]
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
        n += 200
    return (time.perf_counter() - start) * 1e6 / n, (time.process_time() - cpu) * 1e6 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="audiostore-bench-batch-"))
    weed = start_seaweedfs(work / "weed")
    results: dict[str, tuple[float, float]] = {}  # mode -> (us per URL wall, server CPU us per URL)
    try:
        bucket = weed.new_bucket()
        db = f"sqlite:///{work / 'catalog.db'}"
        rows = 11 * args.batch  # OWNER holds rows 1-999, 10000-10999, ... (the fill's blocks)
        ids = [row_id(i) for i in range(1, rows + 1) if (i // 1000) % 10 == 0][:args.batch]
        body = json.dumps({"ids": ids})
        for mode in ("direct", "proxy"):
            sub = work / mode
            sub.mkdir()
            env = {
                "AUDIOSTORE_DATABASE_URL": db, "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": bucket,
                "AUDIOSTORE_S3_ENDPOINT": weed.endpoint, "AUDIOSTORE_S3_REGION": weed.region,
                "AUDIOSTORE_S3_ACCESS_KEY_ID": weed.access_key,
                "AUDIOSTORE_S3_SECRET_ACCESS_KEY": weed.secret_key, "AUDIOSTORE_S3_ALLOW_HTTP": "true",
                "AUDIOSTORE_SIGNED_URLS": mode, "AUDIOSTORE_PUBLIC_URL": "http://127.0.0.1:9",
            }
            with audiostore_serve(work, env=env) as srv:  # one data dir: the admin key of the first
                with srv.client() as c:
                    key = c.post("/v1/keys", json={"owner": OWNER}).raise_for_status().json()["key"]
                if mode == "direct":  # one fill for both servers: the same catalogue
                    asyncio.run(fill(Settings(database_url=db).resolved_database_url, "sqlite", rows))
                with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}) as c:
                    urls = c.post("/v1/urls", content=body,
                                  headers={"Content-Type": "application/json"}).raise_for_status().json()["urls"]
                    assert len(urls) == args.batch and all(u["url"] for u in urls)
                    assert ("X-Amz-Signature" in urls[0]["url"]) == (mode == "direct"), urls[0]
                script = lua(Case("batch", "POST", "/v1/urls", body), key, sub)
                best = (float("inf"), float("inf"))
                for _ in range(args.rounds):
                    before = cpu_seconds(srv.proc.pid)
                    run = wrk_run(srv.url + "/v1/urls", script, seconds=args.seconds, connections=2)
                    cpu = cpu_seconds(srv.proc.pid) - before
                    per_url = 1e6 / (run.rps * args.batch)
                    cpu_per_url = cpu * 1e6 / (run.cpu_us * args.batch)  # cpu_us holds the count
                    best = min(best, (per_url, cpu_per_url))
                results[mode] = best
        keys = [f"{OWNER}/c/{i}.wav" for i in range(1, 201)]
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {int(CLIENT_CPU)})
        boto = weed.boto3()
        boto.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": keys[0]}, ExpiresIn=3600)
        runs = [boto3_cost(boto, bucket, keys, args.seconds) for _ in range(args.rounds)]
        boto_us, boto_cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    finally:
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        [f"POST /v1/urls, {label}", f"{results[mode][0]:.2f}", f"{results[mode][1]:.2f}",
         f"{boto_us / results[mode][0]:.1f}x", f"{boto_cpu / results[mode][1]:.1f}x", f">= {target}x"]
        for mode, label, target in (("direct", "S3 direct (SigV4)", 10), ("proxy", "service-signed", 30))
    ]
    rows.append(["boto3 generate_presigned_url, in process", f"{boto_us:.2f}", f"{boto_cpu:.2f}",
                 "1.0x", "1.0x", ""])
    print(f"{args.batch} ids a request; wrk -t1 -c2, {args.seconds} s x {args.rounds}, best; "
          f"server on CPU 1, wrk and boto3 on CPU 0")
    print(table(rows, ["signer", "wall us/URL", "CPU us/URL", "vs boto3 (wall)", "vs boto3 (CPU)",
                       "target"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
