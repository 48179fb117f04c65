"""Process-wide state shared by routes, middleware and the server's signal handling."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from infratests.refapp.breaker import CircuitBreaker
from infratests.refapp.metrics import Metrics
from infratests.refapp.settings import Settings

__all__ = ["AppState"]


@dataclass
class AppState:
    """Everything one app process holds; clients are None until lifespan startup opened them."""

    settings: Settings
    breaker: CircuitBreaker
    metrics: Metrics = field(init=False)
    pool: Any = None
    redis: Any = None
    lock_clients: list[Any] = field(default_factory=list)
    http: Any = None
    sentry: Any = None
    health_limiter: Any = None
    background: Any = None
    draining: bool = False
    in_flight: int = 0
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self._pool_stats, lambda: {self.breaker.name: int(self.breaker.state)})

    def _pool_stats(self) -> dict[str, int] | None:
        if self.pool is None:
            return None
        from infratests.refapp.db import pool_stats

        return pool_stats(self.pool)
