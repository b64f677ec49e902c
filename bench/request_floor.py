"""What one request costs audiostore's own Python, without HTTP: the app called in process.

    .venv/bin/python bench/request_floor.py [--calls 2000] [--rounds 5] [--cases health,get,...]

The ASGI app (`create_app`, SQLite, local disk, 200 rows of the json_routes fill) is called
straight from a loop, as granian would call it, with the access log configured as
`audiostore serve` configures it (cli/server_logging.py) but writing to a file. The figure is
the process's CPU time per call, best of `--rounds` rounds of `--calls` calls: no socket, no
server, so what a change to the middleware, the access log or the routing saves shows here
at a tenth of the noise of bench/json_routes.py (which is the figure that counts). The bare
handlers of bench/bare_json_app.py are called the same way on the same catalogue, alternating
round by round, for the same ratio json_routes.py reports (bare CPU / ours).
`--no-access-log` turns the line off (AUDIOSTORE_ACCESS_LOG=false).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging.config
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_list_search import RENDITIONS_FILL, SQLITE_FILL  # noqa: E402

from audiostore.catalog import create_engine  # noqa: E402
from audiostore.cli.server_logging import server_log_config  # noqa: E402
from audiostore.http import create_app  # noqa: E402
from audiostore.runtime import Runtime  # noqa: E402
from audiostore.settings import Settings  # noqa: E402

OWNER = "user0"
ONE = "01900000-0000-7000-8000-000000000065"


def cases() -> dict[str, tuple[str, str, bytes, bool]]:
    return {
        "health": ("GET", "/v1/health", b"", False),
        "get": ("GET", f"/v1/audio/{ONE}", b"", True),
        "sign": ("POST", f"/v1/audio/{ONE}/url", b"{}", True),
        "patch": ("PATCH", f"/v1/audio/{ONE}", json.dumps({"metadata": {"take": 2}}).encode(), True),
        "info": ("GET", "/v1/info", b"", True),
    }


async def call(app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays: the next message would be a disconnect
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }
    await app(scope, receive, send)
    return status


async def main_async(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="audiostore-floor-"))
    config = server_log_config()
    log_file = work / "access.log"
    config["handlers"]["audiostore_access"]["stream"] = log_file.open("a")
    logging.config.dictConfig(config)
    settings = Settings(data_dir=work / "data", public_url="http://127.0.0.1:9",
                        access_log=not args.no_access_log)
    runtime = Runtime.build(settings)
    await runtime.migrate()
    engine = create_engine(settings.resolved_database_url)
    async with engine.begin() as conn:
        await conn.execute(text(SQLITE_FILL), {"rows": 200})
        await conn.execute(text(RENDITIONS_FILL.format(params="'{}'")))
    await engine.dispose()
    key = (await runtime.keys.create(OWNER)).key
    app = create_app(runtime)
    os.environ.update(BENCH_DATABASE_URL=settings.resolved_database_url, BENCH_DATA_DIR=str(settings.data_dir),
                      BENCH_PUBLIC_URL="http://127.0.0.1:9")
    from bare_json_app import create_app as create_bare_app

    bare = create_bare_app()
    auth = [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]
    try:
        for name, (method, path, body, authed) in cases().items():
            if args.cases and name not in args.cases:
                continue
            headers = auth if authed else []
            apps = {"audiostore": app, "bare": bare}
            best = dict.fromkeys(apps, float("inf"))
            for which, target in apps.items():
                status = await call(target, method, path, body, headers)
                assert status < 300, (which, name, status)
            for _ in range(args.rounds):
                for which, target in apps.items():
                    start = time.process_time()
                    for _ in range(args.calls):
                        await call(target, method, path, body, headers)
                    best[which] = min(best[which], (time.process_time() - start) / args.calls)
            ours, theirs = best["audiostore"], best["bare"]
            print(f"{name:8} audiostore {ours * 1e6:8.1f} µs/call, bare {theirs * 1e6:8.1f} µs/call, "
                  f"ratio {theirs / ours:.2f}x (CPU, best of {args.rounds} x {args.calls})")
    finally:
        await runtime.close()
        logging.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", type=lambda s: s.split(","), default=None)
    parser.add_argument("--no-access-log", action="store_true")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
