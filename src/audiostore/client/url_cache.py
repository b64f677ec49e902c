"""Signed URLs kept until shortly before they expire, so players are not re-signed per play."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .models import SignedUrl


class SignedUrlCache:
    """Remembers signed URLs per (id, expires_in) and hands one out while it still has more
    than a margin of its life left: a tenth of its lifetime, at least `min_margin` and at most
    `max_margin` seconds (never past its expiry). Bounded (least recently used go first);
    thread-safe.
    """

    def __init__(
        self,
        *,
        min_margin: float = 30.0,
        max_margin: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.min_margin = min_margin
        self.max_margin = max_margin
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple[str, int | None], tuple[SignedUrl, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, audio_id: str, expires_in: int | None) -> SignedUrl | None:
        with self._lock:
            entry = self._entries.get((audio_id, expires_in))
            if entry is None:
                return None
            signed, refresh_at = entry
            if self.clock() >= refresh_at:
                del self._entries[(audio_id, expires_in)]
                return None
            self._entries.move_to_end((audio_id, expires_in))
            return signed

    def put(self, signed: SignedUrl, expires_in: int | None) -> None:
        now = self.clock()
        expires = signed.expires_at.timestamp()
        lifetime = max(0.0, expires - now)
        margin = min(max(self.min_margin, lifetime / 10), self.max_margin, lifetime)
        with self._lock:
            self._entries[(signed.id, expires_in)] = (signed, expires - margin)
            self._entries.move_to_end((signed.id, expires_in))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, audio_id: str) -> None:
        with self._lock:
            for k in [k for k in self._entries if k[0] == audio_id]:
                del self._entries[k]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


__all__ = ["SignedUrlCache"]
