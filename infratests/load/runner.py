"""Locust as the load engine: headless runs in subprocesses, results as a frozen :class:`LoadResult`.

Never import locust into this process (gevent patches everything it
touches); every run is ``<python> -m locust ...`` in its own session.

Scenario form (the load keeps running while the fault is applied)::

    with LocustRun(LoadSpec("api_mix", host, users=20, duration_s=30), workdir) as run:
        proxy.disable(); ...; proxy.enable()
        run.wait()              # optional: let the run finish its duration
    result = run.result         # exit stops Locust (SIGINT) if still running

Steady rate: ``rate_per_user`` (task runs per second per user) or
``target_rps`` (spread over the users) sets ``INFRATESTS_RATE_PER_USER``,
which the suite's locustfiles turn into ``constant_throughput``.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from infratests.errors import ConfigError, InfratestsError, ServiceError
from infratests.load import preflight
from infratests.load.history import history_files, read_rows
from infratests.load.procs import LocustProcesses
from infratests.load.result import LoadResult, cpu_cores
from infratests.load.stats import stats_from_locust_json, stats_from_rows
from infratests.resources import locustfiles_dir

__all__ = ["LoadSpec", "LocustRun", "locust_env", "run_load", "worker_command"]


@dataclass(frozen=True)
class LoadSpec:
    """What to run. ``locustfile`` is a path or a built-in name (``api_mix``).

    ``shape_file`` adds a locustfile holding a LoadTestShape (users/duration
    are then the shape's business; the harness deadline still applies).
    ``deadline_s`` (default: duration + 30 s) bounds the whole run; after it
    Locust gets SIGINT, and SIGKILL ``kill_grace_s`` later. ``workers`` > 0
    runs a master plus that many worker processes here (C-CAP-3);
    ``external_workers`` more are expected from elsewhere (other machines,
    containers), connecting to the master on 127.0.0.1:``master_port``
    (default: a free port). ``history`` False writes no per-request history
    (capacity runs: the listener then costs nothing).
    ``stop_timeout_s`` (Locust's ``--stop-timeout``) lets users finish the
    request in flight when the run stops; without it such requests are
    cancelled and appear in neither the stats nor the history.
    """

    locustfile: str | Path
    host: str
    users: int = 10
    duration_s: float = 5.0
    spawn_rate: float | None = None
    user_classes: tuple[str, ...] = ()
    shape_file: str | Path | None = None
    rate_per_user: float | None = None
    target_rps: float | None = None
    workers: int = 0
    external_workers: int = 0
    master_port: int | None = None
    history: bool = True
    ca_file: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float | None = None
    kill_grace_s: float = 10.0
    stop_timeout_s: float | None = None
    probe_timeout_s: float = 2.0

    def files(self) -> list[Path]:
        files = [preflight.resolve_locustfile(self.locustfile)]
        if self.shape_file is not None:
            files.append(preflight.resolve_locustfile(self.shape_file))
        return files

    def validate(self) -> list[Path]:
        """All pre-start checks (files, classes, numbers, host reachable); returns the files."""
        files = self.files()
        preflight.check_user_classes(files, self.user_classes)
        preflight.check_positive(users=self.users, duration_s=self.duration_s,
                                 spawn_rate=self.spawn_rate, rate_per_user=self.rate_per_user,
                                 target_rps=self.target_rps, deadline_s=self.deadline_s,
                                 kill_grace_s=self.kill_grace_s)
        for key in ("workers", "external_workers"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key} must be >= 0, got {getattr(self, key)}", key)
        preflight.probe_host(self.host, self.probe_timeout_s)
        return files

    def per_user_rate(self) -> float | None:
        if self.target_rps is not None:
            return self.target_rps / self.users
        return self.rate_per_user


class LocustRun:
    """One Locust run as a context manager; ``result`` is available after it stopped."""

    def __init__(self, spec: LoadSpec, workdir: Path | None = None,
                 on_spawn: Callable[[int], None] | None = None) -> None:
        """``on_spawn(pgid)`` is called for each Locust process group (e.g. ``session.record_group``)."""
        self.spec = spec
        self._on_spawn = on_spawn
        # absolute: Locust runs in its own working directory
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="infratests-locust-")).resolve()
        self.history_path = self.workdir / "history.jsonl"
        self._stats_base = self.workdir / "stats"
        self._procs: LocustProcesses | None = None
        self._result: LoadResult | None = None
        self._started = 0.0

    def start(self) -> Self:
        files = self.spec.validate()
        self.workdir.mkdir(parents=True, exist_ok=True)
        deadline = self.spec.deadline_s or self.spec.duration_s + 30.0 + (self.spec.stop_timeout_s or 0)
        grace = max(self.spec.kill_grace_s, (self.spec.stop_timeout_s or 0) + 5.0)
        self._procs = LocustProcesses(self._commands(files), self._env(), self.workdir, deadline, grace)
        self._clear_previous_outputs()
        self._started = time.monotonic()
        try:
            self._procs.start()
            for child in self._procs.children.values():
                if self._on_spawn is not None:
                    self._on_spawn(child.pid)
        except BaseException:
            self._procs.stop()  # never leave half a distributed run behind
            raise
        return self

    def _clear_previous_outputs(self) -> None:
        # The history is appended to: a reused workdir must not mix two runs.
        for path in [*history_files(self.history_path), self._stats_base.with_suffix(".json")]:
            path.unlink(missing_ok=True)

    def wait(self) -> LoadResult:
        """Block until Locust ends by itself or by the deadline; then collect the result."""
        assert self._procs is not None, "start() first"
        self._procs.wait()
        return self.stop()

    def stop(self) -> LoadResult:
        """Stop now (SIGINT, SIGKILL after the grace period) and collect; idempotent.

        Raises :class:`ServiceError` with Locust's last log lines when it
        failed without running (import error in a locustfile, no user class).
        """
        if self._result is None and self._procs is not None:
            self._procs.stop()
            self._result = self._collect(self._procs)
            _raise_if_never_ran(self._result, self.spec)
        return self.result

    @property
    def running(self) -> bool:
        """Whether any Locust process of this run is still alive."""
        return self._procs is not None and self._procs.alive()

    @property
    def result(self) -> LoadResult:
        if self._result is None:
            raise InfratestsError("the Locust run has not finished yet", self.spec)
        return self._result

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if self._procs is None:
            return
        try:
            self.stop()
        except ServiceError:
            if exc_type is None:  # never hide the scenario's own exception
                raise

    def _commands(self, files: list[Path]) -> list[tuple[str, list[str]]]:
        spec = self.spec
        main = [*_locust(files), "--headless", "--host", spec.host, "--json-file", str(self._stats_base),
                "--only-summary", "--loglevel", "INFO"]
        if spec.stop_timeout_s is not None:
            main += ["--stop-timeout", f"{spec.stop_timeout_s:g}s"]
        if spec.shape_file is None:
            main += ["-u", str(spec.users), "-r", str(spec.spawn_rate or spec.users),
                     "-t", f"{spec.duration_s:g}s"]
        if not spec.workers and not spec.external_workers:
            return [("locust", [*main, *spec.user_classes])]
        port = spec.master_port or _free_port()
        master = [*main, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                  "--expect-workers", str(spec.workers + spec.external_workers), *spec.user_classes]
        worker = worker_command(spec, files, port)
        return [("master", master), *((f"worker{i}", worker) for i in range(1, spec.workers + 1))]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)  # carries INFRATESTS_SESSION, the janitor's marker
        for key in ("INFRATESTS_RATE_PER_USER", "INFRATESTS_CA_FILE", "INFRATESTS_HISTORY"):
            env.pop(key, None)
        ours = locust_env(self.spec, self.history_path)
        ours["PYTHONPATH"] = os.pathsep.join(p for p in (ours["PYTHONPATH"], env.get("PYTHONPATH", "")) if p)
        return {**env, **ours}

    def _collect(self, procs: LocustProcesses) -> LoadResult:
        stats_path = self._stats_base.with_suffix(".json")
        source = "locust" if stats_path.is_file() else "history"
        if source == "locust":
            total, endpoints = stats_from_locust_json(stats_path)
        else:
            total, endpoints = stats_from_rows(read_rows(self.history_path))
        main = next(iter(procs.logs))
        return LoadResult(
            total=total, endpoints=endpoints, history_path=self.history_path,
            log_path=procs.logs[main], stats_path=stats_path if source == "locust" else None,
            exit_code=procs.main.returncode, deadline_hit=procs.deadline_hit, source=source,
            wall_s=time.monotonic() - self._started,
            cpu_cores=cpu_cores(procs.samples, total.start, total.end))


def _raise_if_never_ran(result: LoadResult, spec: LoadSpec) -> None:
    if result.source == "locust" or result.requests or result.deadline_hit or result.exit_code == 0:
        return
    tail = result.log_path.read_text(errors="replace").strip().splitlines()[-15:] \
        if result.log_path.exists() else []
    raise ServiceError(f"Locust exited with {result.exit_code} before running any request; "
                       "last log lines:\n" + "\n".join(tail), spec)


def _locust(files: list[Path]) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", ",".join(map(str, files))]


def worker_command(spec: LoadSpec, files: list[Path], port: int) -> list[str]:
    """A worker of ``spec``'s run connecting to its master on 127.0.0.1:``port``."""
    return [*_locust(files), "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
            "--loglevel", "INFO", *spec.user_classes]


def locust_env(spec: LoadSpec, history_path: Path) -> dict[str, str]:
    """The variables the suite's locustfiles read for ``spec`` (and PYTHONPATH to ``_common``), nothing
    of the caller's own environment."""
    env = {"PYTHONPATH": str(locustfiles_dir()), "PYTHONUNBUFFERED": "1"}
    if spec.history:
        env["INFRATESTS_HISTORY"] = str(history_path)
    if (rate := spec.per_user_rate()) is not None:
        env["INFRATESTS_RATE_PER_USER"] = f"{rate:.6g}"
    if spec.ca_file is not None:
        env["INFRATESTS_CA_FILE"] = str(spec.ca_file)
    return {**env, **spec.env}


def run_load(spec: LoadSpec, workdir: Path | None = None) -> LoadResult:
    """Run to completion (or to the deadline) and return the result."""
    with LocustRun(spec, workdir) as run:
        return run.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
