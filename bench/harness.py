"""Shared pieces of the serving benchmarks: ports, CPU pinning, test files, servers, wrk.

On a 2-core machine the server under test is pinned to one core and the load generator to
the other, so neither steals the other's CPU. Every process started here is stopped by the
context manager that started it; every wrk run has a fixed duration.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from audio_factory import write_wav  # noqa: E402,F401 - the benchmarks' test files, as the tests make them

BIN = Path(sys.executable).parent
SERVER_CPU = "1"
CLIENT_CPU = "0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: Sequence[str], cpu: str) -> list[str]:
    """`cmd` run on the given CPU list, when taskset exists and the machine has that CPU."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cpu, *cmd]
    return list(cmd)


class RssSampler:
    """Peak RSS (sum over a process and its children) while running, every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for p in [self.root, *self.root.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self.interval)

    def __enter__(self) -> Self:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def wait_http(
    url: str, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT, then SIGTERM, then SIGKILL: only this process (granian stops its own workers)."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process and its children (kernel sendfile work
    included): a cost per request that load from elsewhere on the machine does not inflate."""
    total = 0.0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """`cpu_seconds` in its two parts: user (the code's own) and system (the kernel's, which
    moves with the machine's memory pressure: page reclaim is charged to the process that
    writes)."""
    user = system = 0.0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        user, system = user + t.user, system + t.system
    return user, system


@dataclass
class Server:
    url: str
    pid: int


@dataclass
class Audiostore:
    url: str
    key: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=120
        )

    def upload(self, path: Path, content_type: str = "audio/wav") -> str:
        with self.client() as c, path.open("rb") as f:
            r = c.post(
                "/v1/audio",
                params={"name": path.name},
                content=f,
                headers={"Content-Type": content_type},
            )
            r.raise_for_status()
            return str(r.json()["id"])

    def signed_url(self, audio_id: str, expires_in: int = 3600) -> str:
        with self.client() as c:
            r = c.post(f"/v1/audio/{audio_id}/url", json={"expires_in": expires_in})
            r.raise_for_status()
            return str(r.json()["url"])


@contextlib.contextmanager
def audiostore_serve(work: Path, *, env: dict[str, str] | None = None) -> Iterator[Audiostore]:
    """`audiostore serve` (granian, 1 worker) on a free port, pinned to SERVER_CPU."""
    port = free_port()
    data_dir = work / "audiostore-data"
    full_env = {
        **os.environ,
        "AUDIOSTORE_DATA_DIR": str(data_dir),
        "AUDIOSTORE_HOST": "127.0.0.1",
        "AUDIOSTORE_PORT": str(port),
        "AUDIOSTORE_WORKERS": "1",
        **(env or {}),
    }
    log = (work / f"audiostore-{port}.log").open("wb")
    proc = subprocess.Popen(
        pinned([sys.executable, "-m", "audiostore", "serve"], SERVER_CPU),
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/v1/health", proc=proc, timeout=120)  # a loaded machine starts slowly
        key = (data_dir / "admin.key").read_text().strip()
        yield Audiostore(url=url, key=key, data_dir=data_dir, proc=proc)
    finally:
        stop(proc)
        log.close()


@contextlib.contextmanager
def granian_app(work: Path, target: str, *, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Any ASGI app `module:factory` under granian with the options `audiostore serve` uses."""
    port = free_port()
    code = (
        "from granian import Granian; from granian.constants import Interfaces; "
        f"Granian({target!r}, factory=True, address='127.0.0.1', port={port}, "
        "interface=Interfaces.ASGI, workers=1, log_access=False).serve()"
    )
    log = (work / f"granian-{port}.log").open("wb")
    proc = subprocess.Popen(
        pinned([sys.executable, "-c", code], SERVER_CPU),
        cwd=REPO,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", proc=proc, timeout=120)  # a loaded machine starts slowly
        yield Server(url, proc.pid)
    finally:
        stop(proc)
        log.close()


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    types {{ audio/wav wav; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@contextlib.contextmanager
def nginx_serving(work: Path, root: Path) -> Iterator[Server]:
    """nginx (1 worker, sendfile on) serving `root` in the foreground, pinned to SERVER_CPU."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (apt-get install -y nginx)")
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, root=root))
    proc = subprocess.Popen(
        pinned(
            [nginx, "-c", str(conf), "-p", str(work), "-e", str(work / "nginx-error.log")],
            SERVER_CPU,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", proc=proc, timeout=120)  # a loaded machine starts slowly
        yield Server(url, proc.pid)
    finally:
        stop(proc)  # SIGINT: nginx's fast shutdown


@dataclass
class WrkResult:
    requests: int
    requests_per_s: float
    bytes_per_s: float
    non_2xx: int
    errors: int


_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def wrk(url: str, *, seconds: int, connections: int, headers: Sequence[str] = ()) -> WrkResult:
    """One bounded wrk run (1 thread, pinned to CLIENT_CPU)."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(
        pinned([*cmd, url], CLIENT_CPU),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", out)
    bps = float(m.group(1)) * _UNITS[m.group(2)] if m else 0.0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        total,
        rps,
        bps,
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(g) for g in errs.groups()) if errs else 0,
    )


def check_clean(name: str, r: WrkResult) -> None:
    if r.non_2xx or r.errors:
        raise SystemExit(f"{name}: {r.non_2xx} non-2xx responses and {r.errors} socket errors")


def workdir(keep: bool = False) -> contextlib.AbstractContextManager[str]:
    return (
        contextlib.nullcontext(tempfile.mkdtemp(prefix="audiostore-bench-"))
        if keep
        else tempfile.TemporaryDirectory(prefix="audiostore-bench-")
    )


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
