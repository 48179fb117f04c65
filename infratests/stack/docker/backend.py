"""The Docker backend: a service spec run as a testcontainers ``DockerContainer``.

Containers join their stack's network (the host's, or a pod's: see
:mod:`~infratests.stack.docker.network`) on the spec's known port, carry the
session's labels (the janitor removes them even after a SIGKILLed run) and its
marker, and run as the same unprivileged uid as the local backend would.
Readiness is the spec's own real-protocol probe, wrapped as a testcontainers
wait strategy. Process faults are container operations: kill is SIGKILL,
pause/resume is the cgroup freezer, terminate is ``kill(signal="SIGTERM")``.
"""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any, Self

from testcontainers.core.container import DockerContainer

from infratests.session import Session
from infratests.stack.docker.calls import DOCKER_ERRORS, container_user, quietly
from infratests.stack.docker.network import HOST, NetworkPlacement
from infratests.stack.docker.plan import ImagePlan
from infratests.stack.docker.reaper import SERVICE_LABEL, SESSION_LABEL
from infratests.stack.docker.waits import ProbeWaitStrategy, listening
from infratests.stack.service import ServiceSpec
from infratests.stack.workdir import WorkdirService

__all__ = ["DockerService"]
_ALIVE = {"running", "paused", "restarting"}


class DockerService(WorkdirService):
    """A :class:`~infratests.stack.service.Service` backed by one container."""

    def __init__(self, spec: ServiceSpec, session: Session, user: str | None,
                 startup_timeout: float = 30.0, *, plan: ImagePlan, network: NetworkPlacement = HOST) -> None:
        super().__init__(spec, session, user, startup_timeout)
        self.launch = plan.launch(spec, session.dir)
        self.network = network
        self._container: DockerContainer | None = None

    def __repr__(self) -> str:
        return f"<DockerService {self.name} {self.launch.image} {self.endpoint.address}>"

    @property
    def container(self) -> Any:
        """The docker SDK container (None before the first start or after stop)."""
        return self._container.get_wrapped_container() if self._container else None

    @property
    def pid(self) -> int | None:
        """Host pid of the container's init, which forwards every signal to the server (as a
        local process's pid takes signals); None when not running."""
        if not self.is_running():
            return None
        return int(self.container.attrs["State"]["Pid"]) or None

    def _launch(self) -> None:
        if self._container is None:
            self._container = self._build()
            self._container.start()
        else:
            self.container.start()

    def wait_ready(self, timeout: float | None = None) -> Self:
        strategy = ProbeWaitStrategy(self.spec, self.is_running, self.logs, timeout or self._timeout,
                                     self.network.proc_net)
        assert self._container is not None, f"{self.name}: wait_ready before start"
        strategy.wait_until_ready(self._container)
        self.ready_after = strategy.waited
        return self

    def is_running(self) -> bool:
        return self._status() in _ALIVE

    def stop(self, graceful: bool = True, timeout: float = 10.0) -> None:
        """Graceful: the server's stop signal, SIGKILL after ``timeout``; the container is removed.

        Idempotent; the container's log is kept in ``service.log``.
        """
        if self._container is None:
            return
        container = self.container
        if graceful and self.is_running():
            self.resume()
            quietly(container.stop, timeout=max(1, int(timeout)))
        self._save_logs()
        quietly(container.remove, force=True, v=True)
        self._container = None

    def kill(self) -> None:
        """Crash: SIGKILL to every process of the container."""
        if self.is_running():
            quietly(self.container.kill)
            quietly(self.container.wait, timeout=10)

    def pause(self) -> None:
        """Freeze every process (cgroup freezer); connections stay open, nothing answers."""
        if self._status() == "running":
            self.container.pause()

    def resume(self) -> None:
        if self._status() == "paused":
            self.container.unpause()

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the server; its exit code, or None if it still runs after ``timeout``."""
        if not self.is_running():
            return self._exit_code()
        self.resume()
        self.container.kill(signal="SIGTERM")
        try:
            return int(self.container.wait(timeout=timeout)["StatusCode"])
        except DOCKER_ERRORS:  # the wait timed out: still running
            return None

    def restart(self, down_for: float = 0.0) -> Self:
        """Stop gracefully (the container is kept), stay down ``down_for`` s, start it again."""
        if self.is_running():
            self.resume()
            self.container.stop(timeout=10)
        if down_for:
            time.sleep(down_for)
        return self.start()

    def logs(self, lines: int = 50) -> str:
        """The last lines of ``service.log`` (the server's output), else of ``docker logs``."""
        tail = self._log_tail(lines)
        if tail is not None:
            return tail
        if self._container is None:
            return ""
        try:
            return str(self.container.logs(tail=lines).decode(errors="replace"))
        except DOCKER_ERRORS as error:  # the daemon may be gone; logs are best effort
            return f"(no logs: {error})"

    def _build(self) -> DockerContainer:
        launch = self.launch
        entrypoint, command = launch.logging_to(self.log_path)
        container = DockerContainer(launch.image).with_command(command)
        for host, inside, mode in launch.mounts:
            container.with_volume_mapping(host, inside, mode)
        container.with_envs(**{**self.spec.env, **launch.env, **self._session.child_env()})
        container.with_name(f"infratests-{self._session.id}-{self.name}-{uuid.uuid4().hex[:6]}")
        return container.with_kwargs(
            network_mode=self.network.mode, entrypoint=entrypoint, user=container_user(self._user), init=True,
            labels={SESSION_LABEL: self._session.id, SERVICE_LABEL: self.name},
            stop_signal=signal.Signals(self.spec.stop_signal).name, shm_size="256m",
            working_dir=str(self.spec.cwd or self.workdir))

    def _status(self) -> str:
        if self._container is None:
            return "absent"
        try:
            self.container.reload()
        except DOCKER_ERRORS:  # removed behind our back (janitor, docker rm)
            return "absent"
        return str(self.container.status)

    def _exit_code(self) -> int | None:
        if self._container is None:
            return None
        return self.container.attrs.get("State", {}).get("ExitCode")

    def _save_logs(self) -> None:
        if self.launch.shell:
            return  # the server wrote service.log itself
        try:
            self.log_path.write_bytes(self.container.logs())
        except DOCKER_ERRORS:  # logs are best effort at teardown
            pass

    def _port_taken(self) -> bool:
        table = self.network.proc_net
        if table is None:
            return False
        try:
            listening(self.endpoint.port, table)()
        except ConnectionRefusedError:
            return False
        return True
