"""The local-process backend satisfies the Service API, with real signals on a real Redis."""

from __future__ import annotations

import socket

import pytest

from infratests.errors import PortInUse, ServiceError
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack import redis
from infratests.stack.local import LocalProcess, unprivileged_user
from infratests.stack.ports import free_port
from infratests.stack.service import ServiceSpec
from tests.stack.protocol import check_service_protocol


def _redis(session: Session, port: int | None = None) -> LocalProcess:
    profile = load_profile()
    spec = redis.redis_spec(profile, "redis-t", port or free_port(), session.service_dir("redis-t"))
    return LocalProcess(spec, session, unprivileged_user(profile.run_as), startup_timeout=10)


def test_protocol_compliance(session: Session) -> None:
    check_service_protocol(_redis(session))


def test_restart_can_stay_down(session: Session) -> None:
    with _redis(session) as service:
        service.restart(down_for=0.3)
        assert service.is_ready()


def test_start_refuses_a_busy_port(session: Session) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        service = _redis(session, squatter.getsockname()[1])
        with pytest.raises(PortInUse, match="already listens"):
            service.start()


def test_exit_before_ready_carries_the_logs(session: Session) -> None:
    spec = ServiceSpec(name="broken", kind="redis", argv=("redis-server", "--no-such-option", "1"),
                       endpoint=_redis(session).endpoint, probe=lambda: socket.create_connection(("127.0.0.1", 1)))
    with pytest.raises(ServiceError, match="broken exited (with code [0-9]+ )?before it was ready(.|\n)*no-such-opt"):
        LocalProcess(spec, session, None, startup_timeout=10).start()
