"""Verifying a client token vs looking up an API key: what a Bearer costs per request.

    .venv/bin/python bench/client_tokens.py [--seconds 2] [--rounds 3]

All three run in this process on a SQLite catalogue (`Runtime.build`, default settings), in
alternating rounds; the best round of each counts:
- API key, cache off (AUDIOSTORE_AUTH_CACHE_SECONDS=0): SHA-256, then the key's row by prefix;
- API key, cache on (the default 2 s): SHA-256 and a dict hit;
- client token, first use: PyJWT HS256 verify, claims to a grant, the owner's `not_before`
  from the in-process copy (AUDIOSTORE_TOKEN_REVOCATION_CACHE_SECONDS, default 5 s);
- client token, seen before: the verified claims remembered by the token's text; expiry and
  revocation still checked.
The token needs no catalogue read, so a fleet of phones costs no database load to authenticate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import table

from audiostore.runtime import Runtime
from audiostore.service import Principal
from audiostore.service.client_tokens import TokenRequest
from audiostore.settings import Settings


async def rate(fn: Callable[[], Awaitable[object]], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    while True:
        for _ in range(100):
            await fn()
        n += 100
        now = time.perf_counter()
        if now - start >= seconds:
            return n / (now - start)


async def main(seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        uncached = Runtime.build(Settings(data_dir=Path(tmp) / "a", auth_cache_seconds=0))
        await uncached.migrate()
        cached = Runtime.build(Settings(data_dir=Path(tmp) / "a"))
        key = (await uncached.keys.create("alice")).key
        token = (await uncached.tokens.mint(Principal(owner="alice"), TokenRequest(scopes=["read"]))).token

        async def first_use() -> object:
            uncached.tokens._verified.clear()  # forget it: the signature is checked every time
            return await uncached.tokens.authenticate(token)

        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "API key, cache off (catalogue read)": lambda: uncached.keys.authenticate(key),
            "API key, cache on (2 s)": lambda: cached.keys.authenticate(key),
            "client token, first use (JWT verify)": first_use,
            "client token, seen before": lambda: uncached.tokens.authenticate(token),
        }
        best = dict.fromkeys(cases, 0.0)
        for _ in range(rounds):
            for name, fn in cases.items():
                best[name] = max(best[name], await rate(fn, seconds))
        await uncached.close()
        await cached.close()
    base = best["API key, cache off (catalogue read)"]
    print(table(
        [[name, f"{r:,.0f}", f"{1e6 / r:.1f}", f"{r / base:.1f}x"] for name, r in best.items()],
        ["Bearer", "verifications/s", "us each", "vs key lookup"],
    ))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
