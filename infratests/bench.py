"""``infratests bench WHAT``: benchmarks whose figures are ratios within one run, printed as JSON.

- startup: stack ready times over three cold starts (warm Postgres template) on the chosen backend.
- proxy: pgbench / redis-benchmark direct vs our fault proxy vs haproxy.
- checks: each history checker over 1M operations.
- load: wrk vs our Locust runner on nginx's own ``/nginx-health`` (plain HTTP).
"""

from __future__ import annotations

import statistics
from typing import Any

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.janitor import open_session

__all__ = ["run"]


def run(what: str, profile: Profile, seconds: float, backend: str = "local") -> dict[str, Any]:
    """Benchmark ``what``; only ``startup`` runs on another backend than ``local``."""
    runners = {"proxy": _proxy, "checks": _checks, "load": _load}
    if what not in (*runners, "startup"):
        raise ConfigError(f"bench {what!r}: choose one of startup, {', '.join(runners)}", what)
    if what == "startup":
        return _startup(profile, backend)
    if backend != "local":
        raise ConfigError(f"bench {what} measures local processes: drop --backend {backend}", "backend")
    return runners[what](profile, seconds)


def _startup(profile: Profile, backend: str) -> dict[str, Any]:
    from infratests.stack.topology import Stack

    runs = []
    for _ in range(3):
        session = open_session()
        try:
            with Stack(profile, session, backend) as stack:
                runs.append(dict(stack.ready_times))
        finally:
            session.close()
    totals = [entry["total"] for entry in runs]
    return {"runs": runs, "total_s": {"min": min(totals), "median": statistics.median(totals),
                                      "max": max(totals)}}


def _proxy(profile: Profile, seconds: float) -> dict[str, Any]:
    from infratests.faults.bench import bench_proxy

    session = open_session()
    try:
        return bench_proxy(profile, session, seconds)
    finally:
        session.close()


def _checks(_profile: Profile, _seconds: float) -> dict[str, Any]:
    from infratests.checks.bench import run_bench

    return run_bench()


def _load(profile: Profile, seconds: float) -> dict[str, Any]:
    import dataclasses

    from infratests.load.bench import bench_load
    from infratests.stack.topology import Stack

    direct = dataclasses.replace(profile, faults=dataclasses.replace(profile.faults, proxy=False))
    session = open_session()
    try:
        with Stack(direct, session) as stack:
            # nginx answers this itself, in C, over plain HTTP: faster than either generator, so the
            # rates measure the generators, not the app or TLS.
            url = stack["nginx"].endpoint.extra["http"] + "/nginx-health"
            return bench_load(url, duration_s=seconds).to_dict()
    finally:
        session.close()
