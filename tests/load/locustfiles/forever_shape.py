"""A LoadTestShape that never returns None: only the harness deadline ends the run."""

from __future__ import annotations

from locust import LoadTestShape


class ForeverShape(LoadTestShape):
    def tick(self) -> tuple[int, float]:
        return 2, 2.0
