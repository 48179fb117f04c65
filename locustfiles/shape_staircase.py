"""A stepped LoadTestShape: pass it with another locustfile (``-f users.py,shape_staircase.py``).

``INFRATESTS_STEPS`` is ``users:seconds`` pairs, comma separated
(default ``10:5,20:5,40:5``); the shape ends after the last step.
"""

from __future__ import annotations

import os

from locust import LoadTestShape

__all__ = ["StaircaseShape"]


def _steps() -> list[tuple[int, float]]:
    raw = os.environ.get("INFRATESTS_STEPS") or "10:5,20:5,40:5"
    pairs = (item.split(":") for item in raw.split(",") if item.strip())
    return [(int(users), float(seconds)) for users, seconds in pairs]


class StaircaseShape(LoadTestShape):
    steps = _steps()

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for users, seconds in self.steps:
            if elapsed < seconds:
                return users, float(users)
            elapsed -= seconds
        return None
