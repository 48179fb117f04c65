"""The pytest plugin: options, markers and the default fixtures.

``stack`` is one session-wide stack of real servers; per-test fixtures reset
what tests share (a fresh database cloned from the template, flushed Redis,
healed faults). A failing test's report carries the services' last log lines.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import ssl
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import psycopg
import pytest
import pytest_asyncio
from _pytest._code import Traceback

from infratests.config import CAPABILITIES, Profile
from infratests.errors import ConfigError, InfratestsError, UnsupportedOperation
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.interrupts import make_printable
from infratests.janitor import open_session
from infratests.profile_file import find_profile_file, load_profile, parse_overrides
from infratests.report.collector import ClaimsReport, claims_of
from infratests.secrets import mask
from infratests.session import Session
from infratests.stack.backends import CHOICES
from infratests.stack.service import Service
from infratests.stack.topology import Stack
from infratests.target import missing_profile_hint, target_line

__all__ = ["MARKERS", "StackFactory", "ProfileSource"]

MARKERS = {
    "gate": "fast, non-destructive scenarios run by `infratests gate` (the CI gate)",
    "chaos": "injects network or process faults",
    "load": "drives load with Locust",
    "destructive": "kills or restarts services; uses a stack of its own",
    "slow": "takes more than ~10 s",
    "needs": "needs(*capabilities): skipped unless the app declares them (docs/app-contract.md, part 2)",
    "live_safe": "safe on a live environment (--infratests-backend external): non-destructive, bounded load, "
                 "only the suite's own keys and rows, cleaned up",
}
class StackFactory(Protocol):
    """The ``stack_factory`` fixture: a private stack as a context manager."""

    def __call__(self, overrides: Mapping[str, str] | None = None, *,
                 promises: Mapping[str, object] | None = None) -> AbstractContextManager[Stack]: ...


_stack_key = pytest.StashKey[Stack]()
_profile_key = pytest.StashKey[tuple["ProfileSource", Profile]]()
_kept_key = pytest.StashKey[bool]()
_private_stacks = itertools.count(1)  # session-wide: each private stack gets a directory of its own


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infratests")
    group.addoption("--infratests-profile", metavar="PATH", default=None,
                    help="profile file (infratests.toml or a pyproject.toml with [tool.infratests])")
    group.addoption("--infratests-set", metavar="KEY=VALUE", action="append", default=[],
                    help="override one profile key, e.g. postgres.max_connections=50")
    group.addoption("--infratests-backend", default=os.environ.get("INFRATESTS_BACKEND", "local"),
                    choices=CHOICES,
                    help="what runs the services: local (child processes), docker (containers), "
                         "auto (docker when its daemon and images are there), or external (an environment "
                         "already running, named in [external]: only live-safe scenarios run); default "
                         "$INFRATESTS_BACKEND or local")
    group.addoption("--infratests-strict", action="store_true",
                    help="fail when a server's effective configuration differs from the profile "
                         "(a template that sets its own number)")
    group.addoption("--infratests-seed", type=int, default=None, metavar="N",
                    help="the seed of the scenarios' random fault plans: replays a run's fault schedule "
                         "(a failing run prints its seed)")
    group.addoption("--infratests-report", metavar="DIR", default="infratests-report",
                    help="where the claims report goes (index.html, per test its history, timeline and "
                         "logs; default ./infratests-report; 'none': no report)")
    group.addoption("--infratests-keep", action="store_true",
                    help="leave the stack up after a failing run, for inspection "
                         "(`infratests down` removes it)")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    # SIGTERM (CI cancelling a job) tears down like Ctrl-C instead of orphaning servers.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:  # a bad profile or --infratests-set is one usage error, not a traceback per test
        source = _profile_source(config)
        config.stash[_profile_key] = (source, source.load())
    except ConfigError as error:
        raise pytest.UsageError(f"infratests: {error}") from None
    folder = config.getoption("infratests_report")
    if folder and folder != "none":
        report = ClaimsReport(config, config.invocation_params.dir / folder, config.stash[_profile_key][1])
        config.pluginmanager.register(report, "infratests-claims-report")


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C and SIGTERM are reported as an interrupt, never as a TypeError from pytest's report of
    a traceback entry without a line number (``infratests.interrupts``)."""
    make_printable(excinfo.value)
    if excinfo.value.__traceback__ is not None:
        excinfo.traceback = Traceback(excinfo.value.__traceback__)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which app, profile and backend this run tests (and a hint when a profile seems missing)."""
    source, profile = config.stash[_profile_key]
    lines = [target_line(profile, config.getoption("infratests_backend"))]
    hint = missing_profile_hint(config.invocation_params.dir) if source.path is None else None
    return lines + ([hint] if hint else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    """``-q`` hides the report header; what is under test is said all the same."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0:
        for line in pytest_report_header(session.config):
            reporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A scenario that needs capabilities the app does not declare is skipped, naming them; on an
    external environment every scenario not marked live_safe is skipped."""
    declared = config.stash[_profile_key][1].capabilities()
    live = config.getoption("infratests_backend") == "external"
    for item in items:
        item.user_properties.append(("claims", " ".join(claims_of(item))))
        if live and item.get_closest_marker("live_safe") is None:
            item.add_marker(pytest.mark.skip(reason="not safe on a live environment (it faults, restarts or loads "
                                                    "it): runs on a stack the suite starts"))
            continue
        for marker in item.iter_markers("needs"):
            unknown = [name for name in marker.args if name not in CAPABILITIES]
            if unknown:
                raise pytest.UsageError(f"{item.nodeid}: needs({unknown[0]!r}) is not a capability; "
                                        f"known: {', '.join(CAPABILITIES)}")
            missing = [name for name in marker.args if name not in declared]
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"the app does not declare capability {missing[0]!r} (app.capabilities); "
                           f"see docs/app-contract.md, part 2, `{missing[0]}`"))
                break


def _profile_source(config: pytest.Config) -> ProfileSource:
    option = config.getoption("infratests_profile")
    folder = config.invocation_params.dir
    path = (folder / option) if option else find_profile_file(folder)
    return ProfileSource(path, parse_overrides(config.getoption("infratests_set")))


@dataclass(frozen=True)
class ProfileSource:
    """Where the profile comes from: a file (or none) and command-line overrides."""

    path: Path | None
    overrides: dict[str, str]

    def load(self, defaults: dict[str, str] | None = None) -> Profile:
        """The profile with a scenario's ``defaults`` under the command line's overrides.

        The command line wins, so a mutant's ``--infratests-set`` reaches private stacks too.
        """
        return load_profile(self.path, {**(defaults or {}), **self.overrides})


@pytest.fixture(scope="session")
def infratests_profile_source(pytestconfig: pytest.Config) -> ProfileSource:
    """The profile file of the folder pytest ran in (or ``--infratests-profile``) and the overrides."""
    return pytestconfig.stash[_profile_key][0]


@pytest.fixture(scope="session")
def infratests_profile(pytestconfig: pytest.Config) -> Profile:
    """The validated profile: CLI overrides over the profile file over defaults."""
    return pytestconfig.stash[_profile_key][1]


@pytest.fixture(scope="session")
def infratests_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """This run's session: reaps dead runs' leftovers first, removes everything at the end."""
    session = open_session()
    yield session
    if not request.config.stash.get(_kept_key, False):
        session.close()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, infratests_profile: Profile,
          infratests_session: Session) -> Iterator[Stack]:
    """The shared stack (nginx -> apps -> PgBouncer -> Postgres, Redis nodes, fault proxy)."""
    with ExitStack() as started:
        try:
            running = started.enter_context(Stack(infratests_profile, infratests_session,
                                                  request.config.getoption("infratests_backend"),
                                                  strict=request.config.getoption("infratests_strict")))
        except InfratestsError as error:  # no test can run: say why once, not once per test
            pytest.exit(f"infratests: the shared stack did not start: {error}", returncode=2)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in running.drift:
                reporter.write_line(f"infratests: effective configuration differs from the profile: {line}")
        request.config.stash[_stack_key] = running
        yield running
        if request.config.getoption("infratests_keep") and request.session.testsfailed:
            _keep(running, request.config)


@pytest.fixture
def stack_factory(request: pytest.FixtureRequest, infratests_profile_source: ProfileSource,
                  infratests_session: Session) -> StackFactory:
    """Start a private stack with scenario settings: ``with stack_factory({"app.replicas": "1"}) as s``.

    For destructive scenarios and profile variants; the command line's overrides still win
    (mutants). ``promises={"lock_ttl_ms": 1000}`` shortens promises to run in seconds, each only
    when the app receives it (``Profile.shortened``). Torn down, and its directory removed, at the
    context's end.
    """
    @contextmanager
    def factory(overrides: Mapping[str, str] | None = None, *,
                promises: Mapping[str, object] | None = None) -> Iterator[Stack]:
        wanted = dict(overrides or {})
        profile = infratests_profile_source.load(wanted)
        if promises and (shortened := profile.shortened(promises)):
            profile = infratests_profile_source.load({**wanted, **shortened})
        private = infratests_session.part(f"s{next(_private_stacks)}")
        private.dir.mkdir(parents=True)
        try:
            with Stack(profile, private, request.config.getoption("infratests_backend")) as running:
                yield running
        finally:
            shutil.rmtree(private.dir, ignore_errors=True)

    return factory


def _keep(running: Stack, config: pytest.Config) -> None:
    """Leave the stack up after this run (the next run's janitor or `infratests down` reaps it)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line("infratests: stack kept up for inspection (`infratests down` removes it):")
        for service in running:
            reporter.write_line(f"  {service.name}: {service.endpoint.url}")
    running.services.clear()
    config.stash[_kept_key] = True


@pytest.fixture(scope="session")
def postgres(stack: Stack) -> Service:
    return stack["postgres"]


@pytest.fixture(scope="session")
def pgbouncer(stack: Stack) -> Service:
    return stack["pgbouncer"]


@pytest.fixture(scope="session")
def nginx(stack: Stack) -> Service:
    return stack["nginx"]


@pytest.fixture(scope="session")
def redis_nodes(stack: Stack) -> list[Service]:
    return [service for service in stack if service.kind == "redis" and service.name != "redis-cache"]


@pytest.fixture(scope="session")
def app_replicas(stack: Stack) -> list[Service]:
    return [service for service in stack if service.kind == "app"]


@pytest.fixture
def https(stack: Stack) -> Iterator[httpx.Client]:
    """An httpx client for the stack's public HTTPS URL (HTTP/2, verified against the session CA)."""
    from infratests.load.workloads.requests import client_for

    with client_for(stack.url, stack.tls.ca, timeout_s=10.0, http2=True) as client:
        yield client


@pytest_asyncio.fixture
async def async_https(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """``https`` for async scenarios: an ``httpx.AsyncClient`` on the stack's public HTTPS URL over
    HTTP/2 (many concurrent requests multiplexed on one connection), verified against the session CA."""
    verify = ssl.create_default_context(cafile=str(stack.tls.ca)) if stack.tls.ca else True
    async with httpx.AsyncClient(base_url=stack.url, verify=verify, timeout=10.0, http2=True) as client:
        yield client


@pytest_asyncio.fixture
async def async_db(stack: Stack) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An async psycopg connection to the app's database through PgBouncer (autocommit; no named
    prepared statements, which transaction pooling cannot keep): open more with
    ``psycopg.AsyncConnection.connect(stack["pgbouncer"].endpoint.url)``."""
    async with await psycopg.AsyncConnection.connect(stack["pgbouncer"].endpoint.url, autocommit=True,
                                                     prepare_threshold=None, connect_timeout=10) as conn:
        yield conn


@pytest.fixture
def fresh_database(stack: Stack) -> Iterator[str]:
    """A new database cloned from the template for this test; its DSN (direct to Postgres)."""
    from infratests.stack.resets import fresh_database as clone

    with clone(stack) as dsn:
        yield dsn


@pytest.fixture
def clean_redis(stack: Stack) -> Iterator[None]:
    """Every Redis node flushed before the test."""
    from infratests.stack.resets import flush_redis

    flush_redis(stack)
    yield


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """The test's history: its clients and the nemesis (``faults``) record into it on one clock; the
    claims report keeps it, with its timeline, as the test's evidence."""
    recording = Recorder()
    yield recording
    report = _claims_report(request.config)
    if report is not None:
        seed = dict(request.node.user_properties).get("fault_seed")
        report.record_history(request.node, recording.history(), int(seed) if seed is not None else None)


@pytest.fixture
def fault_seed(request: pytest.FixtureRequest) -> int:
    """The seed of this test's random fault plans (``FaultPlan.random``): ``--infratests-seed N``, else a
    fresh one. A failing test's report shows it with the option that replays its schedule."""
    given: int | None = request.config.getoption("infratests_seed")
    seed = given if given is not None else random.SystemRandom().randrange(2**31)
    request.node.user_properties.append(("fault_seed", seed))
    return seed


@pytest.fixture
def faults(stack: Stack, recorder: Recorder) -> Iterator[Nemesis]:
    """The nemesis on the shared stack: every network and process fault, applied and recorded in
    ``recorder``. Everything is healed after the test, also when it failed, and the test ends only once
    every replica serves again (the next test never meets this one's aftermath)."""
    from infratests.stack.serving import wait_until_serving

    try:
        stack.faults.heal_all()
    except UnsupportedOperation as unsupported:
        pytest.skip(str(unsupported))
    nemesis = Nemesis(stack, recorder)
    yield nemesis
    nemesis.heal_all()
    wait_until_serving(stack)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                               ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report carries the services' last log lines; no report carries a secret
    (what the terminal, JUnit XML and the claims report show)."""
    report = yield
    running = item.config.stash.get(_stack_key, None)
    logs = {}
    if report.failed and running is not None and "stack" in getattr(item, "fixturenames", ()):
        logs = {service.name: mask(service.logs(20)) for service in running}
        # "Captured stdout": JUnit XML carries these sections in the test's system-out
        report.sections += [(f"Captured stdout infratests log: {name}", text) for name, text in logs.items()]
    seed = dict(item.user_properties).get("fault_seed")
    if report.failed and seed is not None:
        report.sections.append(("infratests fault seed", f"{seed}: replay this schedule with --infratests-seed {seed}"))
    if report.longrepr is not None and (masked := mask(str(report.longrepr))) != str(report.longrepr):
        report.longrepr = masked
    report.sections = [(title, mask(content)) for title, content in report.sections]
    claims = _claims_report(item.config)
    if report.failed and claims is not None:
        claims.record_failure(item, report, logs)
    report.user_properties = [(name, mask(str(value))) for name, value in item.user_properties]
    return report


def _claims_report(config: pytest.Config) -> ClaimsReport | None:
    found = config.pluginmanager.get_plugin("infratests-claims-report")
    return found if isinstance(found, ClaimsReport) else None
