"""Per-key request budgets for public-facing routes (the portal's FAQ search)."""

from __future__ import annotations

import math
import threading
import time

from assistant.errors import RateLimited

# Keys not seen for this long are forgotten, so that the table stays small.
IDLE_SECONDS = 600.0


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests a minute, bursts up to ``burst``.

    In one process; several processes each allow the budget (a documented limitation — the budget
    protects the model from one noisy portal, it is not a billing meter).
    """

    def __init__(self, *, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 4))
        self._buckets: dict[str, tuple[float, float]] = {}  # caller → (tokens, updated at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, caller: str, now: float | None = None) -> None:
        """Spend one request of ``caller``'s budget, or raise ``RateLimited`` with the wait."""
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, updated = self._buckets.get(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise RateLimited(f"Too many searches; try again in {wait} s.", retry_after_seconds=wait)
            self._buckets[caller] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for caller, (_, updated) in list(self._buckets.items()):
            if now - updated > IDLE_SECONDS:
                del self._buckets[caller]
