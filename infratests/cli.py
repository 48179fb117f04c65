"""The ``infratests`` command: up, down, doctor, gate, bench, capacity, images.

Bad input (profile, arguments) is reported in one line naming the fix, exit
status 2, before anything starts.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from infratests.config import Profile, find_profile_file, load_profile
from infratests.errors import InfratestsError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("gate", "capacity"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(args.run(args, rest))
    except InfratestsError as error:
        print(f"infratests: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infratests", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start the stack, print its endpoints, wait for Ctrl-C")
    _profile_options(up)
    up.add_argument("--check", action="store_true",
                    help="print per-service and total ready times as JSON, then tear down")
    up.set_defaults(run=_up)

    down = commands.add_parser("down", help="reap leftovers of dead runs (--all: also live ones)")
    down.add_argument("--all", action="store_true", help="also stop stacks of runs still alive")
    down.set_defaults(run=_down)

    doctor = commands.add_parser("doctor", help="check binaries, versions, permissions, Docker")
    _profile_options(doctor)
    doctor.set_defaults(run=_doctor)

    gate = commands.add_parser("gate", help="run the gate-marked scenarios (extra args go to pytest)")
    gate.set_defaults(run=_gate)

    bench = commands.add_parser("bench", help="benchmarks that print JSON")
    bench.add_argument("what", choices=("startup", "proxy", "checks", "load"))
    bench.add_argument("--seconds", type=float, default=8.0, help="duration of each measured run")
    _profile_options(bench)
    bench.set_defaults(run=_bench)

    capacity = commands.add_parser(
        "capacity", help="stepped load until the budget breaks: knee, plot, summary "
                         "(other options: `infratests capacity --help-search`)")
    _profile_options(capacity)
    capacity.add_argument("--help-search", action="store_true", help="the search's own options")
    capacity.set_defaults(run=_capacity)

    images = commands.add_parser("images", help="container images for --backend docker")
    images.add_argument("action", choices=("build",),
                        help="build: local images from Debian packages (skipped when cached)")
    images.add_argument("--force", action="store_true", help="rebuild even when cached")
    images.set_defaults(run=_images)
    return parser


def _profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", type=Path, default=None,
                        help="profile file (default: ./infratests.toml or [tool.infratests])")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one profile key, e.g. app.replicas=3")
    parser.add_argument("--backend", default="local", choices=("local", "docker", "auto"),
                        help="what runs the services (default: local)")


def _profile(args: argparse.Namespace) -> Profile:
    from infratests.plugin import parse_overrides

    path = args.profile or find_profile_file(Path.cwd())
    return load_profile(path, parse_overrides(args.overrides))


def _up(args: argparse.Namespace, _rest: list[str]) -> int:
    from infratests.janitor import open_session
    from infratests.stack.topology import Stack

    profile = _profile(args)
    session = open_session()
    try:
        with Stack(profile, session, args.backend) as stack:
            if args.check:
                print(json.dumps({"ready_s": stack.ready_times}, indent=2))
                return 0
            endpoints = {service.name: {"url": service.endpoint.url, **service.endpoint.extra}
                         for service in stack}
            print(json.dumps({"session": session.id, "ca": str(stack.tls.ca),
                              "endpoints": endpoints}, indent=2), flush=True)
            print("infratests: stack up; Ctrl-C stops it", file=sys.stderr, flush=True)
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        session.close()


def _down(args: argparse.Namespace, _rest: list[str]) -> int:
    from infratests.janitor import reap_leftovers

    reaped = reap_leftovers(include_live=args.all)
    print(json.dumps({"reaped_sessions": reaped}))
    return 0


def _doctor(args: argparse.Namespace, _rest: list[str]) -> int:
    from infratests.doctor import diagnose

    problems = 0
    for check in diagnose(_profile(args)):
        print(f"[{'ok' if check.ok else 'FAIL' if check.required else 'warn'}] {check.what}: {check.detail}")
        problems += int(check.required and not check.ok)
    return 1 if problems else 0


def _gate(_args: argparse.Namespace, rest: list[str]) -> int:
    """``pytest -m gate`` over ``scenarios/`` unless the arguments name test paths themselves."""
    named = any(Path(arg.split("::")[0]).exists() for arg in rest if not arg.startswith("-"))
    default = [] if named or not Path("scenarios").is_dir() else ["scenarios"]
    return subprocess.call([sys.executable, "-m", "pytest", "-m", "gate", *default, *rest])


# Load comes from one address: per-client rate limits would measure the limiter, and the
# fault proxy is not part of production (issue: capacity runs must not measure it).
CAPACITY_OVERRIDES = {"faults.proxy": "false", "nginx.rate_api_rps": "1000000",
                      "nginx.rate_api_burst": "1000000"}


def _capacity(args: argparse.Namespace, rest: list[str]) -> int:
    """Against ``--host`` if given, else against a default stack started for the run."""
    from infratests.janitor import open_session
    from infratests.load.commands import capacity_main
    from infratests.stack.topology import Stack

    if args.help_search or "--host" in rest:
        return capacity_main(["--help"] if args.help_search else rest)
    args.overrides = [f"{key}={value}" for key, value in CAPACITY_OVERRIDES.items()] + args.overrides
    profile = _profile(args)
    session = open_session()
    try:
        with Stack(profile, session, args.backend) as stack:
            return capacity_main(["--host", stack.url, "--ca-file", str(stack.tls.ca), *rest])
    finally:
        session.close()


def _bench(args: argparse.Namespace, _rest: list[str]) -> int:
    from infratests import bench

    result = bench.run(args.what, _profile(args), args.seconds, args.backend)
    print(json.dumps(result, indent=2))
    return 0


def _images(args: argparse.Namespace, _rest: list[str]) -> int:
    from dataclasses import asdict

    from infratests.stack.docker.images import build_local_images

    print(json.dumps(asdict(build_local_images(force=args.force)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
