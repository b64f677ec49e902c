"""When and how long to wait before trying a request again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry connection errors and 502/503/504 with exponential backoff and jitter.

    `attempts` counts every try (1 = never retry). A `Retry-After` header (seconds) is
    honoured up to `max_backoff`. Requests that are not safe to repeat (a TTS request)
    are only retried when the connection could not be made at all.

    An upload answered 409 `idempotency_key_in_progress` (an earlier request with its
    `Idempotency-Key` is still being stored, e.g. one whose client gave up waiting) is sent
    again after `Retry-After` (capped by `max_backoff`), up to `in_progress_attempts` tries
    in all: the service answers the first request's object once it is stored, or stores
    afresh if it failed.

    Example:
        ```py
        Client(url, api_key=key, retry=RetryPolicy(attempts=6, backoff=0.5))
        ```
    """

    attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    # The service's Retry-After is 5 s and a first request ends within about one store
    # deadline (10 s by default): 6 tries wait up to 25-40 s for it.
    in_progress_attempts: int = 6

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        if response is not None:
            retry_after = response.headers.get("retry-after", "")
            if retry_after.strip().isdigit():
                return min(float(retry_after), self.max_backoff)
        base = min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)
        return base * (0.5 + random.random() / 2)

    def retry_status(self, status: int) -> bool:
        return status in self.statuses


def never_sent(exc: httpx.TransportError) -> bool:
    """True when the request cannot have reached the service (safe to repeat anything)."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


NO_RETRY = RetryPolicy(attempts=1, in_progress_attempts=1)

__all__ = ["NO_RETRY", "RETRY_STATUSES", "RetryPolicy", "never_sent"]
