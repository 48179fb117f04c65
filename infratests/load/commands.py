"""Command entry points for ``infratests`` (wired by the CLI): each is ``main(argv) -> exit code``.

* :func:`capacity_main` - ``infratests capacity``: exit 0 budget met, 1 missed, 2 bad input.
* :func:`bench_main` - ``infratests bench load``: prints wrk vs Locust rates as JSON.
* :func:`run_main` - one Locust run, prints the :class:`LoadResult` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from infratests.errors import InfratestsError
from infratests.load.bench import bench_load
from infratests.load.capacity import budget_from, doubling, search_capacity, staircase
from infratests.load.runner import LoadSpec, run_load

__all__ = ["bench_main", "capacity_main", "run_main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="base URL, e.g. https://127.0.0.1:8443")
    parser.add_argument("--locustfile", default="fixed_get", help="path or built-in name (default fixed_get)")
    parser.add_argument("--user-class", action="append", default=[], dest="user_classes")
    parser.add_argument("--workers", type=int, default=0, help="distributed: master + N workers")
    parser.add_argument("--ca-file", type=Path, default=None, help="CA bundle for the target's TLS")
    parser.add_argument("--path", default=None, help="path for fixed_get (INFRATESTS_PATH)")


def _spec(args: argparse.Namespace, users: int, duration_s: float) -> LoadSpec:
    env = {"INFRATESTS_PATH": args.path} if args.path else {}
    return LoadSpec(args.locustfile, args.host, users=users, duration_s=duration_s,
                    user_classes=tuple(args.user_classes), workers=args.workers, ca_file=args.ca_file,
                    env=env)


def capacity_main(argv: Sequence[str] | None = None) -> int:
    """Stepped capacity search; ``--rates`` gives a rate staircase, else users double."""
    parser = argparse.ArgumentParser(prog="infratests capacity", description=capacity_main.__doc__)
    _common(parser)
    parser.add_argument("--budget", default=None, help="TOML budget file (p99_ms, max_error_rate, min_rps, min_users)")
    parser.add_argument("--start-users", type=int, default=10)
    parser.add_argument("--max-users", type=int, default=320)
    parser.add_argument("--rates", default=None, help="comma-separated total req/s steps (steady rate)")
    parser.add_argument("--users", type=int, default=50, help="users for --rates")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("capacity-report"))
    args = parser.parse_args(argv)
    try:
        budget = budget_from(args.budget)
        steps = (staircase([float(r) for r in args.rates.split(",")], args.users) if args.rates
                 else doubling(args.start_users, args.max_users))
        report = search_capacity(_spec(args, steps[0].users if steps else 1, args.step_seconds),
                                 steps, budget, args.out)
    except (InfratestsError, ValueError) as exc:
        print(f"infratests capacity: {exc}", file=sys.stderr)
        return 2
    return report.exit_code


def bench_main(argv: Sequence[str] | None = None) -> int:
    """wrk and Locust against the same URL for the same time; JSON with both rates and the ratio."""
    parser = argparse.ArgumentParser(prog="infratests bench load", description=bench_main.__doc__)
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep Locust's files here")
    args = parser.parse_args(argv)
    try:
        result = bench_load(args.url, args.duration, args.connections, workers=args.workers, workdir=args.out)
    except InfratestsError as exc:
        print(f"infratests bench load: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2))
    return 0


def run_main(argv: Sequence[str] | None = None) -> int:
    """One headless Locust run; prints the result as JSON; exit 1 when requests failed."""
    parser = argparse.ArgumentParser(prog="infratests load", description=run_main.__doc__)
    _common(parser)
    parser.add_argument("-u", "--users", type=int, default=10)
    parser.add_argument("-t", "--duration", type=float, default=10.0)
    parser.add_argument("--target-rps", type=float, default=None, help="steady total rate")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        spec = replace(_spec(args, args.users, args.duration), target_rps=args.target_rps)
        result = run_load(spec, args.out)
    except InfratestsError as exc:
        print(f"infratests load: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2))
    return 1 if result.failures else 0
