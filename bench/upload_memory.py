"""Memory and throughput of a 1 GB streaming upload through `audiostore serve` on local disk.

    .venv/bin/python bench/upload_memory.py [--size-mb 1024] [--modes raw,multipart]

The server (granian, 1 worker, pinned to CPU 1) gets a valid 1 GiB 16-bit WAV, streamed from
this process (pinned to CPU 0) in 1 MiB chunks, as a raw `audio/wav` body and as multipart.
RSS of the server's whole process tree is sampled every 10 ms; "growth" is the peak minus
the RSS after a small warm-up upload. Throughput is bytes / time until the 201 (stream in,
sha256, sniff, full decode, store, catalogue; loudness is measured after the 201, and the
next upload waits until it is done), against a plain `shutil.copyfile` of the same bytes
on the same disk (page cache warm for both; `os.sync()` before each).
Targets (shared/DESIGN.md): peak RSS growth < 100 MB; throughput >= 0.8x
a direct store put (here: a plain file copy, which is what a local put costs at most).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import CLIENT_CPU, RssSampler, audiostore_serve, table, workdir, write_wav

RSS_TARGET_MB = 100
THROUGHPUT_TARGET = 0.8
CHUNK = 1 << 20


def file_chunks(
    path: Path, sent: list[float], prefix: bytes = b"", suffix: bytes = b""
) -> Iterator[bytes]:
    """The body; appends the time its last byte was handed to the socket to `sent`."""
    yield prefix
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
    yield suffix
    sent.append(time.perf_counter())


def upload(url: str, key: str, path: Path, mode: str) -> tuple[float, float, dict[str, object]]:
    """(seconds until the body was sent, seconds until the 201, the audio object)."""
    size = path.stat().st_size
    sent: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    if mode == "raw":
        body = file_chunks(path, sent)
        headers |= {"Content-Type": "audio/wav", "Content-Length": str(size)}
    else:
        boundary = "audiostorebenchboundary0123456789"
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        body = file_chunks(path, sent, head, tail)
        headers |= {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
    started = time.perf_counter()
    with httpx.Client(timeout=120) as c:
        r = c.post(f"{url}/v1/audio", params={"name": path.name}, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    return sent[0] - started, elapsed, r.json()


def wait_analysed(url: str, key: str, audio_id: str, *, timeout: float = 600.0) -> float:
    """Seconds until the analysis after the upload (loudness) is done; bounded by `timeout`."""
    started = time.monotonic()
    with httpx.Client(timeout=30) as c:
        while time.monotonic() - started < timeout:
            r = c.get(f"{url}/v1/audio/{audio_id}", headers={"Authorization": f"Bearer {key}"})
            if r.json()["analysis"] == "done":
                return time.monotonic() - started
            time.sleep(0.25)
    raise TimeoutError(f"analysis of {audio_id} not done after {timeout} s")


def delete(url: str, key: str, audio_id: str) -> None:
    httpx.delete(
        f"{url}/v1/audio/{audio_id}", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="upload size in MiB (default 1024)"
    )
    parser.add_argument("--modes", default="raw,multipart", help="raw, multipart or both (default)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="start no further mode after this many seconds (default 60: stays < 2 min)",
    )
    args = parser.parse_args(argv)
    began = time.monotonic()
    modes = [m for m in args.modes.split(",") if m]
    size = args.size_mb << 20
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})

    with workdir(args.keep) as tmp:
        work = Path(tmp)
        source = write_wav(work / "big.wav", size)
        small = write_wav(work / "small.wav", 1 << 20)
        size = source.stat().st_size

        os.sync()  # start every timed phase with no dirty pages pending
        started = time.perf_counter()
        shutil.copyfile(source, work / "copy.wav")
        copy_s = time.perf_counter() - started
        (work / "copy.wav").unlink()

        rows: list[list[object]] = [
            [
                "plain file copy (baseline)",
                "-",
                "-",
                f"{copy_s:.2f}",
                f"{size / copy_s / 1e6:,.0f}",
                "1.00x",
                "-",
                "-",
            ]
        ]
        verdicts: list[str] = []
        env = {"AUDIOSTORE_MAX_UPLOAD_BYTES": str(size * 2)}
        with audiostore_serve(work, env=env) as svc:
            _, _, warm = upload(svc.url, svc.key, small, "raw")  # loads PyAV, warms the pool
            delete(svc.url, svc.key, str(warm["id"]))
            for mode in modes:
                if time.monotonic() - began > args.budget:
                    verdicts.append(
                        f"{mode}: skipped, the run is past its --budget of {args.budget:g} s"
                    )
                    continue
                os.sync()
                sampler = RssSampler(svc.proc.pid)
                base_rss = sampler.current()
                with sampler:
                    streamed, elapsed, obj = upload(svc.url, svc.key, source, mode)
                assert obj["size"] == size, obj
                growth_mb = (sampler.peak - base_rss) / 1e6
                # The next upload must not share the CPU with this one's loudness analysis.
                analysed_s = wait_analysed(svc.url, svc.key, str(obj["id"]))
                ratio = copy_s / elapsed
                rows.append(
                    [
                        f"audiostore upload, {mode}",
                        f"{base_rss / 1e6:.0f}",
                        f"{streamed:.2f}",
                        f"{elapsed:.2f}",
                        f"{size / elapsed / 1e6:,.0f}",
                        f"{ratio:.2f}x",
                        f"{growth_mb:.1f}",
                        f"{analysed_s:.1f}",
                    ]
                )
                verdicts.append(
                    f"{mode}: peak RSS growth {growth_mb:.1f} MB "
                    f"({'meets' if growth_mb < RSS_TARGET_MB else 'MISSES'} "
                    f"target < {RSS_TARGET_MB} MB); "
                    f"throughput {ratio:.2f}x a plain copy "
                    f"({'meets' if ratio >= THROUGHPUT_TARGET else 'MISSES'} "
                    f"target >= {THROUGHPUT_TARGET}x)"
                )
                delete(svc.url, svc.key, str(obj["id"]))

    print(
        f"upload: {size / 2**20:,.0f} MiB WAV, streamed in 1 MiB chunks; "
        "server on CPU 1, client on CPU 0"
    )
    print(
        table(
            rows,
            [
                "case",
                "RSS before (MB)",
                "body sent (s)",
                "total (s)",
                "MB/s",
                "vs copy",
                "peak RSS growth (MB)",
                "loudness done after the 201 (s)",
            ],
        )
    )
    print(
        "body sent: the last byte left the client; total: the 201 arrived (after sniff and the\n"
        "full decode, the store put and the catalogue row); loudness is measured after the 201"
    )
    print()
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
