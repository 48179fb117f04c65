"""Locust workers elsewhere (C-CAP-3): the commands that join a master ``infratests capacity`` started.

The master binds 127.0.0.1 only. A worker on this machine runs Locust
directly; a worker in a container runs in the Docker backend's Python image
on the host's network (so 127.0.0.1 is the master's), with this interpreter,
its virtualenv and the locustfiles mounted read-only at the same paths, as
the backend runs the suite's own services. The variables the locustfiles
read (among them, maybe, a health secret) go in a private env file, never on
a command line.
"""

from __future__ import annotations

import os
import shlex
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infratests.errors import ConfigError
from infratests.load.runner import LoadSpec, locust_env, worker_command
from infratests.stack.docker.reaper import SESSION_LABEL

__all__ = ["WorkerRecipe", "worker_image", "worker_recipe", "write_env_file"]


@dataclass(frozen=True)
class WorkerRecipe:
    """How to start one more worker: ``here`` (a process) or ``container`` (``docker run``)."""

    env_file: Path
    here: tuple[str, ...]
    container: tuple[str, ...]

    def describe(self) -> str:
        return (f"  on this machine:  env $(cat {self.env_file}) {shlex.join(self.here)}\n"
                f"  in a container:   {shlex.join(self.container)}")


def write_env_file(path: Path, env: Mapping[str, str]) -> Path:
    """``KEY=value`` lines readable by this user only (``docker run --env-file``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{key}={value}\n" for key, value in sorted(env.items()))
    return path


def worker_recipe(spec: LoadSpec, workdir: Path, port: int, env_file: Path, image: str,
                  session: str | None = None) -> WorkerRecipe:
    """Commands for a worker of ``spec``'s run (master on 127.0.0.1:``port``, Locust files in ``workdir``).

    ``image`` is the Docker backend's Python image; ``session`` labels the
    container for the janitor.
    """
    files = spec.files()
    here = worker_command(spec, files, port)
    env = locust_env(spec, workdir / "history.jsonl")
    roots = [*(str(f.parent) for f in files), _package_root(), *([str(spec.ca_file.parent)] if spec.ca_file else [])]
    python = here[0]
    if sys.base_prefix.startswith("/usr"):  # a system interpreter cannot be mounted over the image's own
        libraries = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
        python, roots = "python3", [*roots, *libraries]
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], _package_root(), *libraries])
    else:
        roots += [sys.base_prefix, sys.prefix]
    write_env_file(env_file, env)
    container = ["docker", "run", "--rm", "--network", "host", "--env-file", str(env_file),
                 "-e", "INFRATESTS_IN_CONTAINER=1",
                 *(["--label", f"{SESSION_LABEL}={session}"] if session else []),
                 "-v", f"{workdir}:{workdir}:rw",
                 *(arg for root in _outermost(roots) for arg in ("-v", f"{root}:{root}:ro")),
                 "--entrypoint", python, image, *here[1:]]
    return WorkerRecipe(env_file, tuple(here), tuple(container))


def worker_image() -> str:
    """The Docker backend's Python image: the local one when built (``infratests images build``), else
    the official one."""
    from infratests.stack.docker.client import docker_client
    from infratests.stack.docker.images import local_image_names, missing_images
    from infratests.stack.docker.plan import OFFICIAL_IMAGES

    client, _reason = docker_client()
    try:
        local = local_image_names()["python"]
    except ConfigError:  # an installed wheel carries no Dockerfiles
        return OFFICIAL_IMAGES["python"]
    if client is not None and not missing_images(client, {"python": local}):
        return local
    return OFFICIAL_IMAGES["python"]


def _package_root() -> str:
    """The directory holding the ``infratests`` package (a checkout, or site-packages)."""
    return str(Path(__file__).resolve().parents[2])


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` without duplicates and without those inside another one (one mount each)."""
    chosen: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths}, key=len):
        if not any(path == root or path.startswith(root.rstrip("/") + "/") for root in chosen):
            chosen.append(path)
    return chosen
