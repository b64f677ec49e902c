"""Signed-URL issue rate: audiostore's service URLs vs boto3 `generate_presigned_url`.

    .venv/bin/python bench/sign_urls.py [--seconds 2] [--rounds 3]

Both run in this process, in alternating rounds; the best round of each counts.
"audiostore" is the real code path `AudioService` runs for a local-disk object
(`_sign_row`: expiry, `UrlSigner.sign` HMAC, query string, URL), built by `Runtime.build`
from default settings. boto3 signs a SigV4 GET for the same key with static credentials
(no network). Target (shared/DESIGN.md): >= 10x boto3.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
from botocore.config import Config
from harness import table

from audiostore.catalog import AudioRow
from audiostore.runtime import Runtime
from audiostore.settings import Settings

TARGET = 10.0
AUDIO_ID = "01937a5e-6f1c-7a42-9d1b-3c4e5f607182"
KEY = f"alice/default/2026-11-21/{AUDIO_ID}.wav"


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, in batches of 200 until `seconds` have passed."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def run_sync(coro):  # type: ignore[no-untyped-def]
    """Drive a coroutine that never awaits anything pending (the local-disk signing path)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the signing path awaited I/O; this benchmark expects pure CPU")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="length of one round (default 2)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per signer (default 3)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="audiostore-bench-") as tmp:
        rt = Runtime.build(
            Settings(data_dir=Path(tmp) / "data", public_url="https://audio.example.com")
        )
        try:
            row = AudioRow(id=AUDIO_ID, key=KEY, name="take 1.wav", owner="alice")
            audio = rt.audio
            seconds = rt.settings.url_default_expiry

            def audiostore_url() -> str:
                return str(run_sync(audio._sign_row(row, seconds, {})).url)

            signer = rt.audio.signer
            expires = int(datetime.now(UTC).timestamp()) + seconds

            def hmac_only() -> str:
                return signer.sign(AUDIO_ID, expires, {})

            s3 = boto3.client(
                "s3",
                region_name="us-east-1",
                endpoint_url="https://s3.example.com",
                aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )

            def boto3_url() -> str:
                return str(
                    s3.generate_presigned_url(
                        "get_object", Params={"Bucket": "audio", "Key": KEY}, ExpiresIn=seconds
                    )
                )

            sample = audiostore_url()
            assert "signature=" in sample and "expires=" in sample, sample
            cases = {
                "audiostore service URL (AudioService)": audiostore_url,
                "audiostore UrlSigner.sign only": hmac_only,
                "boto3 generate_presigned_url (baseline)": boto3_url,
            }
            best = dict.fromkeys(cases, 0.0)
            for _ in range(args.rounds):
                for name, fn in cases.items():
                    fn()  # warm
                    best[name] = max(best[name], rate(fn, args.seconds))
        finally:
            asyncio.run(rt.close())

    base = best["boto3 generate_presigned_url (baseline)"]
    print(f"best of {args.rounds} rounds of {args.seconds:g} s each, one thread")
    print(
        table(
            [[name, f"{r:,.0f}", f"{r / base:.1f}x"] for name, r in best.items()],
            ["signer", "URLs/s", "vs boto3"],
        )
    )
    print()
    ratio = best["audiostore service URL (AudioService)"] / base
    print(
        f"service URL vs boto3: {ratio:.1f}x "
        f"({'meets' if ratio >= TARGET else 'MISSES'} target >= {TARGET:g}x)"
    )
    print(f"example: {sample}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
