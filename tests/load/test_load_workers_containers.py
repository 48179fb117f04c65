"""C-CAP-3: a Locust worker in a container joins the master ``infratests capacity`` started, by the printed recipe.

The container is the Docker backend's Python image on the host's network
(the master binds 127.0.0.1 only); skipped without a Docker daemon or image.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infratests.load.containers import worker_image


def _image_or_skip() -> str:
    from infratests.stack.docker.choose import docker_client
    from infratests.stack.docker.images import missing_images

    client, reason = docker_client()
    if client is None:
        pytest.skip(reason)
    image = worker_image()
    if missing_images(client, {"python": image}):
        pytest.skip(f"{image} is not here (infratests images build, or pull it)")
    return image


def _container_command(capacity: subprocess.Popen[str]) -> list[str]:
    assert capacity.stdout is not None
    for line in capacity.stdout:
        if "in a container:" in line:
            return shlex.split(line.split("in a container:", 1)[1])
    raise AssertionError(f"no container recipe printed (exit {capacity.wait(30)})")


def test_a_container_worker_joins_the_master_capacity_started(target: str, tmp_path: Path) -> None:
    image = _image_or_skip()
    out = tmp_path / "report"
    capacity = subprocess.Popen(
        [sys.executable, "-m", "infratests.cli", "capacity", "--host", target, "--path", "/fast", "--rates", "40",
         "--users", "4", "--workers", "0", "--expect-workers", "1", "--step-seconds", "3", "--warmup-seconds", "1",
         "--wrk-seconds", "0", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"})  # a buffered pipe
    name = f"infratests-test-worker-{uuid.uuid4().hex[:8]}"
    try:
        command = _container_command(capacity)
        assert command[:2] == ["docker", "run"] and image in command and "--network" in command
        worker = subprocess.run([*command[:2], "--name", name, *command[2:]], capture_output=True, text=True,
                                timeout=120, check=False)
        assert worker.returncode == 0, worker.stdout[-2000:] + worker.stderr[-2000:]
        assert capacity.wait(60) == 0
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
        if capacity.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(capacity.pid, signal.SIGKILL)
            capacity.wait()
    step = json.loads((out / "capacity.json").read_text())["steps"][0]
    assert step["requests"] > 0 and not step["missing_processes"]
    assert [(g["role"], g["container"]) for g in step["generators"]] == [("master", False), ("worker", True)]
