"""``infratests capacity``'s search: options, target, workers, wrk next to the knee; exit 0/1/2.

Exit 0: the budget is met; 1: it is missed (no step met it, or a target
was not reached); 2: bad input. The target is ``--host`` (a stack of your
own; ``INFRATESTS_HEALTH_SECRET`` and ``INFRATESTS_PGBOUNCER_ADMIN`` from the
environment, if set) or a :class:`CapacityTarget` the caller started
(:mod:`infratests.load.capacity_stack`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infratests.errors import InfratestsError, UnsupportedOperation
from infratests.janitor import MARKER
from infratests.load import preflight
from infratests.load.budget import budget_from
from infratests.load.capacity import SearchOptions, say, search_capacity
from infratests.load.capacity_result import CapacityReport, StepResult
from infratests.load.control import SHAPE_FILE
from infratests.load.machine import machine_facts, usable_cores
from infratests.load.pool import pgbouncer_probe
from infratests.load.runner import LoadSpec
from infratests.load.steps import Step, doubling, rate_ladder, staircase
from infratests.load.wrk import run_wrk

__all__ = ["CapacityTarget", "capacity_main", "capacity_parser"]


@dataclass(frozen=True)
class CapacityTarget:
    """Where the load goes, and what the search may know about it.

    ``default_path`` is requested when ``--path`` is not given;
    ``health_secret`` makes every request (and wrk's) an internal caller's
    (``X-Health-Secret``), which the contract never rate-limits (C-HL-4);
    ``pgbouncer_admin`` is PgBouncer's admin console DSN (the pool per step);
    ``session`` labels worker containers for the janitor; ``context`` joins the
    report (the limits lifted, the profile).
    """

    host: str
    ca_file: Path | None = None
    default_path: str = "/health"
    health_secret: str | None = None
    pgbouncer_admin: str | None = None
    session: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


def capacity_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infratests capacity", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Stepped load until a step breaks the budget: the knee, what limited it, a report "
                    "(docs/capacity.md). Exit 0: budget met; 1: missed; 2: bad input.")
    parser.add_argument("--host", default=None,
                        help="base URL of a stack of your own (without it: the stack infratests starts)")
    parser.add_argument("--locustfile", default="fixed_get", help="path or built-in name")
    parser.add_argument("--user-class", action="append", default=[], dest="user_classes")
    parser.add_argument("--path", default=None,
                        help="fixed_get's path (None: app.ready_path as an internal caller, else /health)")
    parser.add_argument("--ca-file", type=Path, default=None, help="CA bundle for the target's TLS")
    parser.add_argument("--budget", default=None, help="TOML budget: p99_ms, max_error_rate, min_rps, min_users, "
                                                       "max_db_connections")
    search = parser.add_argument_group("steps (default: a rate ladder from --start-rps doubling to --max-rps)")
    search.add_argument("--start-rps", type=float, default=100.0)
    search.add_argument("--max-rps", type=float, default=25600.0)
    search.add_argument("--factor", type=float, default=2.0, help="rate ladder factor")
    search.add_argument("--rates", default=None, help="comma-separated total req/s steps instead of the ladder")
    search.add_argument("--rps-per-user", type=float, default=10.0,
                        help="rate steps: one user per this many req/s (at least 10 users)")
    search.add_argument("--users", type=int, default=None, help="rate steps: this many users at every step")
    search.add_argument("--start-users", type=int, default=None, help="closed loop: users doubling from here")
    search.add_argument("--max-users", type=int, default=None, help="closed loop: ... up to here")
    search.add_argument("--refine", type=int, default=2,
                        help="steps between the knee and the first step over budget")
    search.add_argument("--step-seconds", type=float, default=10.0, help="measured seconds per step")
    search.add_argument("--warmup-seconds", type=float, default=2.0, help="unmeasured seconds per step")
    generator = parser.add_argument_group("generator")
    generator.add_argument("--workers", type=int, default=usable_cores(),
                           help="Locust worker processes here, next to a master (default: one per core; "
                                "0: one process)")
    generator.add_argument("--expect-workers", type=int, default=0,
                           help="workers started elsewhere (other machines, containers): prints their commands")
    generator.add_argument("--master-port", type=int, default=None, help="the master's port on 127.0.0.1")
    generator.add_argument("--history", action="store_true", help="write the per-request history (off: cheaper)")
    generator.add_argument("--wrk-seconds", type=float, default=5.0,
                           help="wrk on the same endpoint after the search (0: skip)")
    parser.add_argument("--out", type=Path, default=Path("capacity-report"), help="report folder")
    return parser


def capacity_main(argv: Sequence[str] | None = None, target: CapacityTarget | None = None,
                  echo: Callable[[str], None] = say) -> int:
    """Parse ``argv``, run the search against ``target`` (else ``--host``), write the report."""
    parser = capacity_parser()
    args = parser.parse_args(argv)
    if target is None and not args.host:
        parser.error("--host is required here: the base URL of the stack to load")
    scratch = Path(tempfile.mkdtemp(prefix="infratests-capacity-"))  # private: env files may hold a secret
    try:
        target = target or CapacityTarget(args.host, args.ca_file,
                                          health_secret=os.environ.get("INFRATESTS_HEALTH_SECRET"),
                                          pgbouncer_admin=os.environ.get("INFRATESTS_PGBOUNCER_ADMIN"))
        return _run(args, target, scratch, echo).exit_code
    except (InfratestsError, ValueError) as exc:
        print(f"infratests capacity: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(args: argparse.Namespace, target: CapacityTarget, scratch: Path,
         echo: Callable[[str], None]) -> CapacityReport:
    budget, steps = budget_from(args.budget), _steps(args)
    path = args.path or target.default_path
    spec = _spec(args, target, steps[0], path)
    workdir = (args.out / "locust").resolve()
    if spec.external_workers:
        _announce_workers(spec, workdir, scratch, target, echo)
    options = SearchOptions(args.warmup_seconds, args.step_seconds, args.refine,
                            start_timeout_s=120.0 if spec.external_workers else 60.0)
    machine = machine_facts()
    context = {"target": {"host": target.host, "path": path, "locustfile": str(args.locustfile),
                          "user_classes": list(args.user_classes), "workers_here": spec.workers,
                          "workers_elsewhere": spec.external_workers, "history": spec.history,
                          "internal_caller": bool(target.health_secret)},
               "machine": machine, **target.context}
    admin = target.pgbouncer_admin
    return search_capacity(spec, steps, budget, args.out.resolve(), options,
                           pgbouncer_probe(admin) if admin else None, context, echo,
                           _reference(args, target, path, machine, echo))


def _steps(args: argparse.Namespace) -> list[Step]:
    if args.start_users is not None or args.max_users is not None:
        return doubling(args.start_users or 10, args.max_users or 320)
    if args.rates:
        return staircase([float(rate) for rate in args.rates.split(",")], args.users, args.rps_per_user)
    return rate_ladder(args.start_rps, args.max_rps, args.factor, args.rps_per_user)


def _spec(args: argparse.Namespace, target: CapacityTarget, first: Step, path: str) -> LoadSpec:
    env = {"INFRATESTS_PATH": path}
    if target.health_secret:
        env["INFRATESTS_HEALTH_SECRET"] = target.health_secret
    if target.session:
        env[MARKER] = target.session  # Locust's processes are the session's: the janitor reaps leftovers
    port = args.master_port
    if args.expect_workers and port is None:
        from infratests.stack.ports import free_port

        port = free_port()
    return LoadSpec(args.locustfile, target.host, users=first.users, duration_s=args.step_seconds,
                    shape_file=SHAPE_FILE, user_classes=tuple(args.user_classes), workers=args.workers,
                    external_workers=args.expect_workers, master_port=port, history=args.history,
                    ca_file=args.ca_file or target.ca_file, env=env)


def _announce_workers(spec: LoadSpec, workdir: Path, scratch: Path, target: CapacityTarget,
                      echo: Callable[[str], None]) -> None:
    from infratests.load.containers import worker_image, worker_recipe

    workdir.mkdir(parents=True, exist_ok=True)
    assert spec.master_port is not None
    recipe = worker_recipe(spec, workdir, spec.master_port, scratch / "worker.env", worker_image(), target.session)
    echo(f"capacity: the master waits for {spec.external_workers} more worker(s) on 127.0.0.1:"
         f"{spec.master_port} (for 120 s); start each with\n{recipe.describe()}")


def _reference(args: argparse.Namespace, target: CapacityTarget, path: str, machine: Mapping[str, Any],
               echo: Callable[[str], None]) -> Callable[[StepResult | None], Mapping[str, Any]]:
    """The load average once Locust has stopped, then wrk's maximum rate on the endpoint fixed_get loaded."""
    def run(knee: StepResult | None) -> Mapping[str, Any]:
        after = {"machine": {**machine, "load_average_after": [round(value, 2) for value in os.getloadavg()]}}
        if args.wrk_seconds <= 0:
            return {**after, "wrk": {"skipped": "--wrk-seconds 0"}}
        if preflight.resolve_locustfile(args.locustfile).name != "fixed_get.py":
            return {**after, "wrk": {"skipped": "the locustfile is not fixed_get: wrk cannot replay it"}}
        headers = {"X-Health-Secret": target.health_secret} if target.health_secret else None
        connections = max(50, knee.step.users if knee else 0)
        echo(f"capacity: wrk on the same endpoint for {args.wrk_seconds:g} s ({connections} connections)")
        try:
            wrk = run_wrk(target.host.rstrip("/") + path, args.wrk_seconds, connections, usable_cores(), headers)
        except UnsupportedOperation as exc:
            return {**after, "wrk": {"skipped": str(exc)}}
        return {**after, "wrk": wrk.to_dict()}
    return run
