"""``faults.server``: the stack's fault proxy is the suite's own or a Toxiproxy server binary, run alike.

The live tests run the built-in server and, when it is there, the real one
(``$INFRATESTS_TOXIPROXY_SERVER``, else the shared reference build).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infratests.errors import ConfigError, InfratestsError
from infratests.faults.network import NetworkFaults
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack import faultproxy
from infratests.stack.docker.plan import OFFICIAL_IMAGES, ImagePlan
from infratests.stack.local import LocalProcess
from infratests.stack.ports import LOOPBACK, free_port
from infratests.stack.service import Endpoint
from tests.mutants.mutant import ROOT

REAL = Path(os.environ.get("INFRATESTS_TOXIPROXY_SERVER") or "/work/shared/tools/toxiproxy/toxiproxy-server")
SERVERS = [pytest.param(None, id="built-in"),
           pytest.param(REAL, id="toxiproxy", marks=pytest.mark.skipif(
               not os.access(REAL, os.X_OK), reason=f"no real Toxiproxy at {REAL}"))]


def _endpoint(port: int) -> Endpoint:
    return Endpoint(LOOPBACK, port, f"tcp://{LOOPBACK}:{port}")


def test_both_servers_get_the_same_command_line_and_config(tmp_path: Path) -> None:
    proxies = {"redis-1": (_endpoint(7005), _endpoint(7006))}
    ours = faultproxy.faultproxy_spec(7004, proxies, tmp_path)
    theirs = faultproxy.faultproxy_spec(7004, proxies, tmp_path, server=Path("/opt/toxiproxy-server"))
    flags = ("-host", "127.0.0.1", "-port", "7004", "-config", str(tmp_path / "proxies.json"))
    assert ours.argv == (sys.executable, "-m", "infratests.faults.toxiproxy", *flags)
    assert theirs.argv == ("/opt/toxiproxy-server", *flags)
    assert faultproxy.server_flags(ours) == faultproxy.server_flags(theirs) == flags
    assert ours.files == theirs.files


def test_docker_runs_the_named_binary_in_the_python_image(tmp_path: Path) -> None:
    """``faults.server`` wins over the official image; both get the spec's flags."""
    spec = faultproxy.faultproxy_spec(7004, {}, tmp_path, server=Path("/opt/toxiproxy-server"))
    plan = ImagePlan("official", dict(OFFICIAL_IMAGES))
    launch = plan.launch(spec, tmp_path)
    assert (launch.image, launch.entrypoint) == (OFFICIAL_IMAGES["python"], ("/opt/toxiproxy-server",))
    assert launch.command == faultproxy.server_flags(spec)
    assert ("/opt/toxiproxy-server", "/opt/toxiproxy-server", "ro") in launch.mounts
    official = plan.launch(faultproxy.faultproxy_spec(7004, {}, tmp_path), tmp_path)
    assert (official.entrypoint, official.command) == (("/toxiproxy",), launch.command)


def _binary(folder: Path, mode: int = 0o755) -> Path:
    path = folder / "bin" / "toxiproxy-server"
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_relative_path_starts_at_the_profile_folder(tmp_path: Path) -> None:
    binary = _binary(tmp_path)
    (tmp_path / "infratests.toml").write_text('[faults]\nserver = "bin/toxiproxy-server"\n')
    assert load_profile(tmp_path / "infratests.toml").faults.server == binary
    assert load_profile(tmp_path / "infratests.toml", {"faults.server": ""}).faults.server is None


def test_missing_or_not_executable_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^faults\.server = '.*nope': no such file") as missing:
        load_profile(None, {"faults.server": str(tmp_path / "nope")})
    assert missing.value.subject == "faults.server" and "\n" not in str(missing.value)
    with pytest.raises(ConfigError, match=r"^faults\.server = .* is not executable"):
        load_profile(None, {"faults.server": str(_binary(tmp_path, 0o644))})


def test_environment_sets_it_for_a_run_and_the_command_line_wins(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    binary = _binary(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFRATESTS_FAULTS_SERVER", "bin/toxiproxy-server")
    assert load_profile(None).faults.server == binary
    assert load_profile(None, {"faults.server": ""}).faults.server is None


def test_pytest_says_it_in_one_line_before_anything_starts(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
                           "tests/faults/test_plan.py", f"--infratests-set=faults.server={tmp_path}/nope"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4, done.stdout + done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if "faults.server" in ln]
    assert "no such file" in line


@pytest.mark.parametrize("server", SERVERS)
def test_stack_proxy_is_ready_once_every_link_listens(session: Session, server: Path | None) -> None:
    upstream, listen = _endpoint(free_port()), _endpoint(free_port())
    spec = faultproxy.faultproxy_spec(free_port(), {"redis": (listen, upstream)},
                                      session.service_dir("faultproxy"), server=server)
    with LocalProcess(spec, session, None, startup_timeout=10) as proxy:
        faults = NetworkFaults(proxy.endpoint.host, proxy.endpoint.port)
        assert faults.proxies()["redis"].listen == listen.address
        with faults.down("redis"):
            assert not faults.proxies()["redis"].enabled
        socket.create_connection((LOOPBACK, listen.port), timeout=2).close()


@pytest.mark.parametrize("server", SERVERS)
def test_a_link_that_cannot_listen_is_never_ready(session: Session, server: Path | None) -> None:
    """Toxiproxy's server answers though its config failed; the probe waits for the links, not /version."""
    with socket.create_server((LOOPBACK, 0)) as squatter:
        taken = _endpoint(squatter.getsockname()[1])
        spec = faultproxy.faultproxy_spec(free_port(), {"redis": (taken, _endpoint(free_port()))},
                                          session.service_dir("faultproxy"), server=server)
        service = LocalProcess(spec, session, None, startup_timeout=3)
        with pytest.raises(InfratestsError, match="redis"):
            service.start()
        service.stop()
