"""A TCP port on 127.0.0.1 that takes connections and never answers: what a frozen or
black-holed bucket looks like from here (not a refused connection, which fails at once)."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SilentListener:
    """Accepts every connection and holds it open, reading nothing and writing nothing."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-listener", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                if sel.select(timeout=0.1):
                    try:
                        conn, _ = self._sock.accept()
                    except BlockingIOError:
                        continue
                    self._held.append(conn)
                    self.accepted += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


@contextmanager
def silent_listener() -> Iterator[SilentListener]:
    listener = SilentListener()
    try:
        yield listener
    finally:
        listener.close()
