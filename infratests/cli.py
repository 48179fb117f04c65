"""The ``infratests`` command: init, up, down, doctor, gate, bench, capacity, images.

Bad input (profile, arguments) is reported in one line naming the fix, exit
status 2, before anything starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from infratests.config import Profile
from infratests.errors import InfratestsError
from infratests.profile_file import find_profile_file, load_profile, parse_overrides
from infratests.stack.backends import CHOICES
from infratests.target import missing_profile_hint, target_line

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("gate", "capacity"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    # SIGTERM (CI cancelling a job, a process manager) tears down like Ctrl-C: every command that
    # starts something stops it on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args.run(args, rest))
    except InfratestsError as error:
        _say_error(error)
        return 2
    except KeyboardInterrupt:
        return 130


def _say_error(error: InfratestsError) -> None:
    """One line naming what to fix; a service's last log lines, if it had any, indented below it."""
    from infratests.secrets import mask

    first, _, details = mask(str(error)).partition("\n")
    print(f"infratests: {first}", file=sys.stderr)
    for line in details.splitlines()[-12:]:
        print(f"  | {line}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infratests", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="write infratests.toml, a GitHub Actions workflow and an "
                                             "example test here (never overwrites)")
    init.set_defaults(run=_init)

    up = commands.add_parser("up", help="start the stack, print its endpoints, wait for Ctrl-C")
    _profile_options(up)
    up.add_argument("--check", action="store_true",
                    help="print per-service and total ready times as JSON, then tear down")
    up.add_argument("--external-profile", type=Path, default=None, metavar="PATH",
                    help="also write a profile that points --backend external at this stack (it holds the "
                         "stack's secrets: written readable by you only), to rehearse pre-deploy checks")
    up.set_defaults(run=_up)

    down = commands.add_parser("down", help="reap leftovers of dead runs (--all: also live ones)")
    down.add_argument("--all", action="store_true", help="also stop stacks of runs still alive")
    down.set_defaults(run=_down)

    doctor = commands.add_parser("doctor", help="check binaries, versions, permissions, Docker")
    _profile_options(doctor)
    doctor.set_defaults(run=_doctor)

    gate = commands.add_parser("gate", help="run the gate-marked scenarios (extra args go to pytest)")
    _profile_options(gate)
    gate.add_argument("--strict", action="store_true",
                      help="a server whose effective configuration differs from the profile is an error "
                           "(the default when CI=true)")
    gate.set_defaults(run=_gate)

    audit = commands.add_parser("audit", help="check the team's config files (nginx, pgbouncer.ini, redis.conf, "
                                               "postgresql.conf, .env, ecosystem.config.js) against the promises")
    audit.add_argument("paths", nargs="+", metavar="PATH",
                       help="a file, KIND=file (kinds: nginx, pgbouncer, redis, postgres, dotenv, pm2), or a folder")
    audit.add_argument("--profile", type=Path, default=None,
                       help="profile file with the promises (default: ./infratests.toml or [tool.infratests])")
    audit.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override one profile key, e.g. promises.pool_max=10")
    audit.add_argument("--pm2-env", default="production", metavar="NAME",
                       help="the env_NAME block of ecosystem files that applies (PM2's --env; default production)")
    audit.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    audit.set_defaults(run=_audit)

    bench = commands.add_parser("bench", help="benchmarks that print JSON")
    bench.add_argument("what", choices=("startup", "proxy", "checks", "load"))
    bench.add_argument("--seconds", type=float, default=8.0, help="duration of each measured run")
    _profile_options(bench)
    bench.set_defaults(run=_bench)

    capacity = commands.add_parser(
        "capacity", help="stepped load until the budget breaks: the knee, what limited it, an HTML report "
                         "(the search's options: `infratests capacity --help-search`)")
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
    parser.add_argument("--backend", default="local", choices=CHOICES,
                        help="what runs the services: local, docker, auto, or external (an environment "
                             "already running, named in [external]: pre-deploy verification; default: local)")


def _profile(args: argparse.Namespace) -> Profile:
    """The invoking folder's profile (or ``--profile``), with ``--set`` on top; says what is tested."""
    path = args.profile or find_profile_file(Path.cwd())
    profile = load_profile(path, parse_overrides(args.overrides))
    print(target_line(profile, args.backend), file=sys.stderr, flush=True)
    hint = missing_profile_hint(Path.cwd()) if path is None else None
    if hint:
        print(hint, file=sys.stderr, flush=True)
    return profile


def _init(_args: argparse.Namespace, _rest: list[str]) -> int:
    from infratests.scaffold import write_starter

    for written in write_starter(Path.cwd()):
        print(f"infratests init: {written}")
    print("infratests init: set app.command in infratests.toml, then run `infratests gate`")
    return 0


def _up(args: argparse.Namespace, _rest: list[str]) -> int:
    from infratests.janitor import open_session
    from infratests.stack.external import external_profile
    from infratests.stack.topology import Stack

    profile = _profile(args)
    session = open_session()
    try:
        with Stack(profile, session, args.backend) as stack:
            for line in stack.drift:
                print(f"infratests: effective configuration differs from the profile: {line}", file=sys.stderr)
            if args.check:
                print(json.dumps({"ready_s": stack.ready_times}, indent=2))
                return 0
            if args.external_profile:
                _write_private(args.external_profile, external_profile(stack))
            endpoints = {service.name: {"url": service.endpoint.url, **service.endpoint.extra}
                         for service in stack}
            print(json.dumps({"session": session.id, "ca": str(stack.tls.ca),
                              "endpoints": endpoints}, indent=2), flush=True)
            print("infratests: stack up; Ctrl-C stops it", file=sys.stderr, flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        session.close()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by this user only (the file holds secrets)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


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


def _gate(args: argparse.Namespace, rest: list[str]) -> int:
    """``pytest -m gate`` over the installed scenarios (unless the arguments name test paths), in this
    process: Ctrl-C and SIGTERM reach pytest, which tears the stack down before exiting."""
    import pytest

    from infratests.resources import gate_ini, scenarios_dir

    load_profile(args.profile, parse_overrides(args.overrides))  # bad input: one line, before pytest
    strict = args.strict or os.environ.get("CI", "").lower() == "true"
    options = [f"--infratests-backend={args.backend}", *(["--infratests-strict"] if strict else []),
               *([f"--infratests-profile={args.profile.resolve()}"] if args.profile else []),
               *(f"--infratests-set={pair}" for pair in args.overrides)]
    paths = [] if names_test_paths(rest) else [str(scenarios_dir())]
    code = pytest.main(["-c", str(gate_ini()), "--rootdir", str(Path.cwd()), "-m", "gate",
                        *options, *paths, *rest])
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(f"infratests gate: no gate scenario collected from {' '.join(paths) or 'the paths given'}",
              file=sys.stderr)
    return 130 if code == pytest.ExitCode.INTERRUPTED else int(code)


# pytest options whose value is the next argument (so it is not taken for a test path).
_VALUE_OPTIONS = {
    "-k", "-m", "-p", "-o", "-c", "-n", "--override-ini", "--junitxml", "--junit-xml", "--deselect",
    "--ignore", "--ignore-glob", "--rootdir", "--basetemp", "--tb", "--maxfail", "--durations",
    "--timeout", "--confcutdir", "--log-file", "--report-log", "--dist", "--infratests-profile",
    "--infratests-set", "--infratests-backend",
}


def names_test_paths(arguments: Sequence[str]) -> bool:
    """Whether pytest ``arguments`` name test files or node ids (not an option's value)."""
    previous = ""
    for argument in arguments:
        if not argument.startswith("-") and previous not in _VALUE_OPTIONS \
                and Path(argument.split("::")[0]).exists():
            return True
        previous = argument
    return False


# Load comes from one address: every per-client rate limit would measure the limiter (nginx's zones,
# and the app's own through its promise), and the fault proxy is not part of production.
CAPACITY_OVERRIDES = {"faults.proxy": "false", "nginx.rate_auth_rps": "1000000", "nginx.rate_webhook_rps": "1000000",
                      "nginx.rate_api_rps": "1000000", "nginx.rate_api_burst": "1000000",
                      "promises.health_rate_per_min": "1000000"}


def _capacity(args: argparse.Namespace, rest: list[str]) -> int:
    """Against ``--host`` if given, else against a default stack started for the run, its limits lifted."""
    from infratests.load.capacity_command import capacity_main
    from infratests.load.capacity_stack import capacity_on_stack, lifted_limits

    if args.help_search or "--host" in rest:
        return capacity_main(["--help"] if args.help_search else rest)
    before = load_profile(args.profile or find_profile_file(Path.cwd()), parse_overrides(args.overrides))
    args.overrides = [f"{key}={value}" for key, value in CAPACITY_OVERRIDES.items()] + args.overrides
    profile = _profile(args)
    return capacity_on_stack(profile, args.backend, rest, lifted_limits(before, profile))


def _audit(args: argparse.Namespace, _rest: list[str]) -> int:
    """Exit 0 when the files keep every promise, 1 with findings (one line each), 2 on bad input."""
    import time

    from infratests.audit import audit

    started = time.perf_counter()
    path = args.profile or find_profile_file(Path.cwd())
    profile = load_profile(path, parse_overrides(args.overrides), secrets=False)
    report = audit(args.paths, profile, path, args.pm2_env)
    took_ms = (time.perf_counter() - started) * 1000
    if args.json:
        print(json.dumps({**report.as_json(), "took_ms": round(took_ms, 1)}, indent=2))
        return report.exit_code
    for finding in report.findings:
        print(finding)
    for include in report.skipped:
        print(f"infratests audit: not here, skipped: {include}", file=sys.stderr)
    kinds = ", ".join(f"{f.shown} ({f.kind})" for f in report.files) or "no configuration files"
    verdict = f"{len(report.findings)} finding(s)" if report.findings else "every promise kept"
    print(f"infratests audit: {verdict}; read {kinds} and the profile's app settings in {took_ms:.0f} ms",
          file=sys.stderr)
    return report.exit_code


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
