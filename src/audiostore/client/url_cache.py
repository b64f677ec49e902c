"""Signed URLs kept until shortly before they expire, so players are not re-signed per play."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .models import SignedUrl


class SignedUrlCache:
    """Remembers signed URLs per (id, expires_in, rendition variant) and hands one out while it still has more
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
        self._entries: OrderedDict[tuple[str, int | None, str | None], tuple[SignedUrl, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, audio_id: str, expires_in: int | None, variant: str | None = None) -> SignedUrl | None:
        """The cached URL, if it has enough life left; `variant` names a rendition (None:
        the original bytes)."""
        key = (audio_id, expires_in, variant)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            signed, refresh_at = entry
            if self.clock() >= refresh_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return signed

    def put(self, signed: SignedUrl, expires_in: int | None, variant: str | None = None) -> None:
        now = self.clock()
        expires = signed.expires_at.timestamp()
        lifetime = max(0.0, expires - now)
        margin = min(max(self.min_margin, lifetime / 10), self.max_margin, lifetime)
        with self._lock:
            key = (signed.id, expires_in, variant)
            self._entries[key] = (signed, expires - margin)
            self._entries.move_to_end(key)
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
