"""A TCP relay on 127.0.0.1 in front of a real server: a network that fails on purpose.

Each connection is relayed both ways. The first connections can be given a budget of bytes
(client to server): past it both sides are dropped, in the middle of whatever request was
going. `rate` (bytes/s, client to server) slows the relay down so a test can act mid-upload.
It counts the bytes it passed upstream and the tus requests it saw (request lines), and
stops accepting after `max_connections` or when closed; every socket has a timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

BLOCK = 64 * 1024


class CuttingRelay:
    def __init__(self, upstream_port: int, *, cuts: list[int] | None = None, rate: float | None = None,
                 max_connections: int = 200) -> None:
        self.upstream_port = upstream_port
        self.cuts = list(cuts or [])  # budget per connection, in order; then unlimited
        self.rate = rate
        self.max_connections = max_connections
        self.upstream_bytes = 0
        self.cut_count = 0
        self.requests: Counter[str] = Counter()  # "PATCH", "HEAD", "POST" to /v1/uploads
        self._lock = threading.Lock()
        self._closed = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=5)
        self.listener.close()

    def __enter__(self) -> CuttingRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        accepted = 0
        while not self._closed and accepted < self.max_connections:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted += 1
            with self._lock:
                budget = self.cuts.pop(0) if self.cuts else None
            threading.Thread(target=self._relay, args=(conn, budget), daemon=True).start()

    def _count_requests(self, tail: bytes, data: bytes) -> bytes:
        seen = tail + data
        for method in ("PATCH", "HEAD", "POST"):
            needle = f"{method} /v1/uploads".encode()
            # only request lines that start in the new data (the tail was counted already)
            start = 0
            while (i := seen.find(needle, start)) != -1:
                if i + len(needle) > len(tail):
                    with self._lock:
                        self.requests[method] += 1
                start = i + 1
        return seen[-32:]

    def _relay(self, conn: socket.socket, budget: int | None) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        conn.settimeout(30)
        done = threading.Event()

        def back() -> None:  # server to client, untouched
            try:
                while data := upstream.recv(BLOCK):
                    conn.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=back, daemon=True).start()
        sent, tail = 0, b""
        try:
            while not done.is_set():
                want = BLOCK if budget is None else min(BLOCK, budget - sent)
                if want <= 0:
                    with self._lock:
                        self.cut_count += 1
                    time.sleep(0.2)  # let the server read what it was given before the cut
                    break
                data = conn.recv(want)
                if not data:
                    break
                tail = self._count_requests(tail, data)
                upstream.sendall(data)
                sent += len(data)
                with self._lock:
                    self.upstream_bytes += len(data)
                if self.rate:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (upstream, conn):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
