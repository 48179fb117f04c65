"""The load steps a capacity search offers: rates with enough users, or users in a closed loop.

A rate step (``target_rps`` set) paces ``users`` so that together they offer
that many requests per second; a user step has ``users`` sending as fast as
their answers come back (closed loop). Searches walk a ladder upwards and,
once a step breaks the budget, try steps between the knee and that step
(:func:`between`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infratests.errors import ConfigError

__all__ = ["Step", "between", "doubling", "rate_ladder", "staircase", "users_for"]


@dataclass(frozen=True)
class Step:
    """``users`` in a closed loop, or offering ``target_rps`` in total (steady rate) when set."""

    users: int
    target_rps: float | None = None

    @property
    def offered(self) -> float:
        """The offered load: req/s for a rate step, users for a closed-loop step."""
        return self.target_rps if self.target_rps is not None else float(self.users)

    @property
    def rate_per_user(self) -> float | None:
        return None if self.target_rps is None else self.target_rps / self.users

    def describe(self) -> str:
        if self.target_rps is None:
            return f"{self.users} users"
        return f"{self.target_rps:g} req/s offered, {self.users} users"


def users_for(rate: float, rps_per_user: float, min_users: int = 10) -> int:
    """Users enough to offer ``rate`` with each user sending at most ``rps_per_user`` (Little's law:
    a user that waits longer than 1/rps_per_user for its answers falls behind its pace)."""
    return max(min_users, math.ceil(rate / rps_per_user))


def doubling(start_users: int, max_users: int) -> list[Step]:
    """Users doubling: start, 2*start, ... up to max_users (closed loop)."""
    if start_users < 1 or max_users < start_users:
        raise ConfigError(f"users: need 1 <= start ({start_users}) <= max ({max_users})", "start_users")
    steps, users = [], start_users
    while users <= max_users:
        steps.append(Step(users))
        users *= 2
    return steps


def staircase(rates: Sequence[float], users: int | None = None, rps_per_user: float = 10.0) -> list[Step]:
    """The given total rates, each spread over ``users`` (None: :func:`users_for` each rate)."""
    if not rates or min(rates) <= 0 or (users is not None and users < 1) or rps_per_user <= 0:
        raise ConfigError(f"rates must be > 0, users >= 1 and rps_per_user > 0, got {list(rates)}, {users} "
                          f"and {rps_per_user:g}", "rates")
    return [Step(users or users_for(rate, rps_per_user), float(rate)) for rate in rates]


def rate_ladder(start_rps: float, max_rps: float, factor: float = 2.0, rps_per_user: float = 10.0) -> list[Step]:
    """Rates start, start*factor, ... up to max_rps, each with :func:`users_for` users."""
    if start_rps <= 0 or max_rps < start_rps or factor <= 1 or rps_per_user <= 0:
        raise ConfigError(f"rate ladder: need 0 < start ({start_rps:g}) <= max ({max_rps:g}), factor > 1 "
                          f"({factor:g}) and rps_per_user > 0 ({rps_per_user:g})", "start_rps")
    steps, rate = [], float(start_rps)
    while rate <= max_rps * (1 + 1e-9):
        steps.append(Step(users_for(rate, rps_per_user), round(rate, 3)))
        rate *= factor
    return steps


def between(low: Step, high: Step) -> Step | None:
    """The step halfway from ``low`` (within budget) to ``high`` (over it); None when none is left."""
    users = round((low.users + high.users) / 2)
    if low.target_rps is None or high.target_rps is None:
        return Step(users) if low.users < users < high.users else None
    rate = round((low.target_rps + high.target_rps) / 2, 1)
    if not low.target_rps < rate < high.target_rps or high.target_rps - low.target_rps < 0.05 * high.target_rps:
        return None
    return Step(max(1, users), rate)
