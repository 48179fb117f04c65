"""One Locust run from the command line: :func:`run_main` prints the :class:`LoadResult` as JSON.

``infratests capacity`` is :mod:`infratests.load.capacity_command`; ``infratests bench load`` is
:func:`infratests.load.bench.bench_load`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from infratests.errors import InfratestsError
from infratests.load.runner import LoadSpec, run_load

__all__ = ["run_main"]


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
