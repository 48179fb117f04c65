"""Capacity budgets (C-CAP-1, C-CAP-2): what a step must meet, and what the knee must reach.

A budget is a small dict or TOML file, keys at the top level or under
``[budget]``::

    p99_ms = 500            # a step meets the budget when its p99 <= this ...
    max_error_rate = 0.001  # ... and its error rate <= this (0.1%; 429, 5xx, timeouts, resets)
    min_rps = 1500          # the knee must sustain at least this many req/s
    min_users = 300         # the knee must serve at least this many concurrent users ...
    max_db_connections = 30 # ... through at most this many PgBouncer server connections

A run in which no step met the budget fails whatever targets are set.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError

__all__ = ["Budget", "budget_from"]


@dataclass(frozen=True)
class Budget:
    p99_ms: float = 500.0
    max_error_rate: float = 0.001
    min_rps: float | None = None
    min_users: int | None = None
    max_db_connections: int | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"budget key {item.name!r} must be a number, got {value!r}", item.name)
            if value < 0 or (value == 0 and item.name != "max_error_rate"):
                raise ConfigError(f"budget key {item.name!r} must be > 0, got {value!r}", item.name)
        if self.max_error_rate > 1:
            raise ConfigError(f"budget key 'max_error_rate' is a fraction (0.001 = 0.1%), "
                              f"got {self.max_error_rate!r}", "max_error_rate")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Budget:
        """Build from a dict; an unknown key is an error that lists the known ones."""
        known = {item.name for item in fields(cls)}
        for key in raw:
            if key not in known:
                raise ConfigError(f"unknown budget key {key!r} (known: {', '.join(sorted(known))})", key)
        return cls(**dict(raw))

    @classmethod
    def load(cls, path: Path) -> Budget:
        """Read a TOML budget file (keys at the top level or under ``[budget]``)."""
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"budget file {path} cannot be read: {exc}", path) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"budget file {path} is not valid TOML: {exc}", path) from exc
        table = raw.get("budget", raw)
        if not isinstance(table, dict):
            raise ConfigError(f"budget file {path}: [budget] must be a table", path)
        return cls.from_mapping(table)

    def step_verdict(self, p99_ms: float, error_rate: float) -> str | None:
        """None when a step meets the budget, else why not."""
        if error_rate > self.max_error_rate:
            return f"errors {error_rate:.2%} > {self.max_error_rate:.2%}"
        if p99_ms > self.p99_ms:
            return f"p99 {p99_ms:g} ms > {self.p99_ms:g} ms"
        return None

    def knee_failures(self, rps: float | None, users: int | None) -> list[str]:
        """Why the knee fails the budget (C-CAP-2); ``rps``/``users`` None means no step met it."""
        missed = [] if rps is not None else ["no step met the budget"]
        if self.min_rps is not None and (rps is None or rps < self.min_rps):
            missed.append(f"min_rps {self.min_rps:g} not reached (knee: {_fmt(rps, 'req/s')})")
        if self.min_users is not None and (users is None or users < self.min_users):
            missed.append(f"min_users {self.min_users} not reached (knee: {_fmt(users, 'users', '.0f')})")
        return missed

    def pool_failures(self, server_connections: int | None, transactions_per_s: float | None) -> list[str]:
        """Why the knee's load did not go through the pool as ``max_db_connections`` says; both figures
        are PgBouncer's during the knee step, None when PgBouncer was not observed."""
        limit = self.max_db_connections
        if limit is None:
            return []
        if server_connections is None or transactions_per_s is None:
            return [f"max_db_connections {limit}: PgBouncer was not observed (run on the stack infratests "
                    "starts, or set INFRATESTS_PGBOUNCER_ADMIN to its admin console DSN)"]
        if transactions_per_s <= 0:
            return [f"max_db_connections {limit}: no transaction went through PgBouncer at the knee; load a "
                    "route that uses the database (e.g. --path '/db/sleep?s=0')"]
        if server_connections > limit:
            return [f"PgBouncer used {server_connections} server connections at the knee > "
                    f"max_db_connections {limit}"]
        return []

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def budget_from(source: Budget | Mapping[str, Any] | Path | str | None) -> Budget:
    """A Budget from a Budget, a dict, a TOML path, or None (the defaults)."""
    if source is None:
        return Budget()
    if isinstance(source, Budget):
        return source
    if isinstance(source, Mapping):
        return Budget.from_mapping(source)
    return Budget.load(Path(source))


def _fmt(value: float | None, unit: str, spec: str = ".1f") -> str:
    return "none" if value is None else f"{value:{spec}} {unit}"
