"""S3 (SeaweedFS): upload throughput through the service vs a direct obstore put of the same
file, and presigned-URL issue rate, obstore vs boto3.

    .venv/bin/python bench/s3_upload_presign.py [--mb 64] [--rounds 3] [--seconds 2]

Starts a real SeaweedFS (`weed server -s3` with an identities file, as the tests do) and a real
`audiostore serve` (granian) on it with `AUDIOSTORE_STORE=s3` and a SQLite catalogue. The
upload is a WAV of `--mb` MiB sent as a raw streamed body to `POST /v1/audio`; the service
streams it to a temp file while hashing and, at the same time, to the bucket as an 8 MiB
multipart upload (the early put, after the intent row), then fully decodes it with PyAV and
completes the multipart upload (loudness is measured after the 201). The baseline is
`obstore.put_async` of the same file to the same SeaweedFS with the same part size. Rounds
alternate between the two; best of `--rounds` each. Presign: `S3BlobStore.sign_get` (the call the service makes in direct mode)
vs boto3 `generate_presigned_url` for the same key, alternating rounds, best round each.
Targets (shared/DESIGN.md): upload >= 0.8x a direct put; presign >= 10x boto3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from fixtures_seaweedfs import SeaweedFS, start_seaweedfs  # noqa: E402
from harness import RssSampler, free_port, stop, table, wait_http, write_wav  # noqa: E402

from audiostore.blobstores.s3 import PART_SIZE, S3BlobStore  # noqa: E402


def store_for(weed: SeaweedFS, bucket: str) -> S3BlobStore:
    return S3BlobStore(bucket=bucket, endpoint=weed.endpoint, region=weed.region,
                       access_key_id=weed.access_key, secret_access_key=weed.secret_key,
                       allow_http=True)


def serve(weed: SeaweedFS, bucket: str, data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    data.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDIOSTORE_")},
        "AUDIOSTORE_DATA_DIR": str(data), "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": bucket,
        "AUDIOSTORE_S3_ENDPOINT": weed.endpoint, "AUDIOSTORE_S3_REGION": weed.region,
        "AUDIOSTORE_S3_ACCESS_KEY_ID": weed.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": weed.secret_key, "AUDIOSTORE_S3_ALLOW_HTTP": "true",
        "AUDIOSTORE_MAX_UPLOAD_BYTES": str(4 << 30),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "audiostore", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data.parent,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v1/health", timeout=60, proc=proc)
    return proc, url, (data / "admin.key").read_text().strip()


def upload_via_service(url: str, key: str, path: Path, pid: int) -> tuple[float, float]:
    """(seconds until the 201, the server's peak RSS growth in MB), then waits until the
    upload's loudness analysis is done, so the next round does not share the CPU with it."""
    auth = {"Authorization": f"Bearer {key}"}
    with path.open("rb") as f, httpx.Client(timeout=600) as client:
        sampler = RssSampler(pid)
        base = sampler.current()
        with sampler:
            start = time.perf_counter()
            r = client.post(f"{url}/v1/audio", content=f, headers={**auth, "Content-Type": "audio/wav"})
            elapsed = time.perf_counter() - start
        if r.status_code != 201:
            raise RuntimeError(f"upload answered {r.status_code}: {r.text[:300]}")
        deadline = time.monotonic() + 300
        while client.get(f"{url}/v1/audio/{r.json()['id']}", headers=auth).json()["analysis"] != "done":
            if time.monotonic() > deadline:
                raise TimeoutError("the analysis after the upload did not finish in 300 s")
            time.sleep(0.25)
    return elapsed, (sampler.peak - base) / 1e6


async def put_direct(store: S3BlobStore, path: Path, n: int) -> float:
    start = time.perf_counter()
    await store.put_file(f"direct/{n}.wav", path, content_type="audio/wav")
    return time.perf_counter() - start


async def presign_rates(store: S3BlobStore, boto: object, seconds: float, rounds: int) -> tuple[float, float]:
    key = "alice/default/2026-11-21/01937a5e-6f1c-7a42-9d1b-3c4e5f607182.wav"
    best_obstore = best_boto = 0.0
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(200):
                await store.sign_get(key, expires_in=3600)
            n += 200
        best_obstore = max(best_obstore, n / (time.perf_counter() - start))
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(200):
                boto.generate_presigned_url(  # type: ignore[attr-defined]
                    "get_object", Params={"Bucket": store.bucket, "Key": key}, ExpiresIn=3600)
            n += 200
        best_boto = max(best_boto, n / (time.perf_counter() - start))
    return best_obstore, best_boto


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--shared-cpus", action="store_true",
        help="do not give SeaweedFS a core of its own (store, service and client share all)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="audiostore-bench-s3-"))
    # Volumes as large as production ones (the tests keep them at 64 MB to save disk): a
    # volume filling up mid-upload makes SeaweedFS grow new ones, and both sides then stall.
    weed = start_seaweedfs(work / "weed", volume_size_mb=1024)
    isolated = not args.shared_cpus and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1
    if isolated:
        # A real S3 runs on machines of its own. Here the store gets core 0 and everything
        # else (this client, the service, the direct put's obstore) core 1, so the store's
        # work never competes with the work each side does to feed it.
        for task in Path(f"/proc/{weed.proc.pid}/task").iterdir():  # every thread, not just the main one
            os.sched_setaffinity(int(task.name), {0})
        os.sched_setaffinity(0, {1})  # inherited by the `audiostore serve` started below
    proc = None
    try:
        bucket = weed.new_bucket()
        wav = write_wav(work / "upload.wav", args.mb << 20)
        proc, url, key = serve(weed, bucket, work / "serve" / "audiostore-data")
        store = store_for(weed, bucket)
        # Alternating rounds, so both sides see the same machine and the same store state.
        service_times, direct_times, rss_growth = [], [], []
        for n in range(args.rounds):
            seconds, grown = upload_via_service(url, key, wav, proc.pid)
            service_times.append(seconds)
            rss_growth.append(grown)
            direct_times.append(asyncio.run(put_direct(store, wav, n)))
        service_s, direct_s = min(service_times), min(direct_times)
        size_mb = wav.stat().st_size / (1 << 20)
        obstore_rate, boto_rate = asyncio.run(presign_rates(store, weed.boto3(), args.seconds, args.rounds))
    finally:
        if proc is not None:
            stop(proc)
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    cpus = "SeaweedFS on core 0; client, service and obstore on core 1" if isolated else "all share every core"
    print(f"upload: {size_mb:.0f} MiB WAV, part size {PART_SIZE >> 20} MiB, best of {args.rounds}; {cpus}")
    print(table([
        ("POST /v1/audio (stream + early put, hash, probe, complete)", f"{service_s:.2f}", f"{size_mb / service_s:.0f}"),
        ("obstore put_async, same file", f"{direct_s:.2f}", f"{size_mb / direct_s:.0f}"),
    ], ["path", "seconds", "MiB/s"]))
    print(f"service / direct throughput: {direct_s / service_s:.2f}x (target >= 0.8x)")
    print(f"server peak RSS growth during an upload: {max(rss_growth):.1f} MB (target < 100 MB)")
    print("rounds (service s / direct s): "
          + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(service_times, direct_times, strict=True)))
    print()
    print(table([
        ("S3BlobStore.sign_get (obstore SigV4)", f"{obstore_rate:,.0f}", f"{1e6 / obstore_rate:.1f}"),
        ("boto3 generate_presigned_url", f"{boto_rate:,.0f}", f"{1e6 / boto_rate:.1f}"),
    ], ["presign", "URLs/s", "us/URL"]))
    print(f"obstore / boto3: {obstore_rate / boto_rate:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
