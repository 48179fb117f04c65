"""Process faults through the nemesis: recorded in the history, healed on exit also when the body raises."""

from __future__ import annotations

import pytest

from infratests.errors import UnsupportedOperation
from infratests.faults import process
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack import redis
from infratests.stack.local import LocalProcess, unprivileged_user
from infratests.stack.ports import free_port
from infratests.stack.topology import Stack


@pytest.fixture
def node(session: Session):  # noqa: ANN201 - a running LocalProcess
    profile = load_profile()
    spec = redis.redis_spec(profile, "redis-f", free_port(), session.service_dir("redis-f"))
    with LocalProcess(spec, session, unprivileged_user(profile.run_as), 10) as service:
        yield service


@pytest.fixture
def nemesis(session: Session) -> Nemesis:
    """A nemesis whose stack is never started: the node under test is not one of its services."""
    return Nemesis(Stack(load_profile(), session), Recorder())


def test_crash_restarts_on_exit_even_after_an_error(node: LocalProcess, nemesis: Nemesis) -> None:
    with pytest.raises(RuntimeError), nemesis.crashed(node):
        assert not node.is_running()
        raise RuntimeError("scenario failed inside the fault")
    assert node.is_ready()
    [window] = nemesis.recorder.history().fault_windows()
    assert (window.fault, window.target) == ("crash", "redis-f") and window.start < window.end < float("inf")


def test_pause_resumes_on_exit(node: LocalProcess, nemesis: Nemesis) -> None:
    with nemesis.paused(node):
        assert node.is_running() and not node.is_ready()
    assert node.wait_ready(5).is_ready()
    assert [w.fault for w in nemesis.recorder.history().fault_windows(target="redis-f")] == ["pause"]


def test_terminate_reports_exit_code_and_start_heals(node: LocalProcess, nemesis: Nemesis) -> None:
    assert nemesis.terminate(node, 10) == 0
    assert not node.is_running()
    nemesis.start(node)
    assert node.is_ready()
    [window] = nemesis.recorder.history().fault_windows("terminate")
    assert window.end < float("inf")


def test_restart_with_downtime_and_heal(node: LocalProcess, nemesis: Nemesis) -> None:
    assert nemesis.restart(node, down_for=0.2) >= 0.2
    node.kill()
    process.heal(node)
    assert node.is_ready()


def test_unsupported_operation_becomes_a_skip() -> None:
    with pytest.raises(pytest.skip.Exception, match="cannot pause an external server"):
        with process.skip_unsupported():
            raise UnsupportedOperation("cannot pause an external server")
