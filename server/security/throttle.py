"""Slowing down key guessing: too many failed authentications from one address get 429.

By default more than 10 failures within 60 seconds from one address answer 429 with
``Retry-After`` until the oldest failure leaves the window. A valid key is never
throttled: the check runs only for requests that failed authentication.
"""

from __future__ import annotations

import math
import time
from collections import deque


class AuthThrottle:
    def __init__(self, limit: int = 10, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures

    def retry_after(self, address: str) -> int | None:
        """Seconds to wait when ``address`` is over the limit, else None."""
        now = time.monotonic()
        failures = self._recent(address, now)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - now))

    def record_failure(self, address: str) -> None:
        now = time.monotonic()
        self._recent(address, now)
        self._failures.setdefault(address, deque()).append(now)
        if len(self._failures) > 10_000:  # bound memory under a spray of addresses
            oldest = min(self._failures, key=lambda a: self._failures[a][-1])
            del self._failures[oldest]
