"""Which image runs a service spec, and how: entrypoint, command, environment, mounts.

Containers share one network namespace (the host's, or their stack's pod) and
see the session directory at the same path as the host, so a spec's argv and
rendered config files work unchanged. Local images (Debian bookworm packages) have the host's binary
paths; official images are asked for the binary by name on their own PATH.
The suite's Python services run this very interpreter and virtualenv,
bind-mounted read-only at the same paths with the source tree (the image only
supplies shared libraries): nothing to build or pip-install, a code change
needs no rebuild, and package markers match exactly. A system interpreter
(under /usr) cannot be mounted over the image's own; then the image's
``python3`` runs with PYTHONPATH on our source and site-packages.
"""

from __future__ import annotations

import shlex
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infratests.errors import ConfigError
from infratests.stack.faultproxy import server_flags
from infratests.stack.service import ServiceSpec

__all__ = ["OFFICIAL_IMAGES", "PYTHON_KINDS", "ImagePlan", "Launch"]

_PY = f"{sys.version_info.major}.{sys.version_info.minor}"
OFFICIAL_IMAGES: Mapping[str, str] = {
    "postgres": "postgres:15-bookworm",
    "pgbouncer": "edoburu/pgbouncer:latest",
    "redis": "redis:7-bookworm",
    "nginx": "nginx:1.22",
    "python": f"python:{_PY}-slim-bookworm",
    "faultproxy": "ghcr.io/shopify/toxiproxy:2.9.0",
}
PYTHON_KINDS = frozenset({"app", "dependency", "faultproxy", "sentry"})
_LOCAL_PYTHON = "3.11"  # Debian bookworm's python3


@dataclass(frozen=True)
class Launch:
    """How one container runs: image, entrypoint + command, extra env, (host, container, mode) mounts.

    ``shell`` says the image has /bin/sh: the backend then appends the server's
    output to ``service.log`` in its workdir, as the local backend does.
    """

    image: str
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[tuple[str, str, str], ...] = ()
    shell: bool = True

    def logging_to(self, log: Path) -> tuple[list[str], list[str]]:
        """(entrypoint, command) that append the server's stdout+stderr to ``log``.

        ``exec`` keeps the server the direct child of the init, so signals reach it.
        """
        if not self.shell:
            return list(self.entrypoint), list(self.command)
        script = f'exec "$@" >>{shlex.quote(str(log))} 2>&1'
        return ["/bin/sh", "-c", script, "sh"], [*self.entrypoint, *self.command]


@dataclass(frozen=True)
class ImagePlan:
    """``kind -> image`` for one stack; ``source`` is ``local`` or ``official``, ``reason`` says why.

    A ``faultproxy`` entry means the real Toxiproxy runs the proxy; without it the
    suite's own proxy runs in the Python image (``faults.server``, a Toxiproxy binary, wins over both).
    """

    source: str
    images: Mapping[str, str]
    reason: str = ""

    def launch(self, spec: ServiceSpec, session_dir: Path) -> Launch:
        """The container for ``spec``; its session directory is mounted read-write at the same path."""
        shared = ((str(session_dir), str(session_dir), "rw"),)
        if spec.kind == "faultproxy" and (spec.argv[0] != sys.executable or "faultproxy" in self.images):
            return self._toxiproxy(spec, shared)
        if spec.argv[0] == sys.executable:
            return self._python(spec, shared)
        if spec.kind == "app":
            return self._users_app(spec, shared)
        image = self.images.get(spec.kind) or self.images.get("python" if spec.kind in PYTHON_KINDS else "")
        if not image:
            raise ConfigError(f"docker.image.{spec.kind}: no image for service kind {spec.kind!r}; "
                              f"set one in the profile", f"docker.image.{spec.kind}")
        binary = spec.argv[0] if self.source == "local" else Path(spec.argv[0]).name
        return Launch(image, (binary,), spec.argv[1:], mounts=shared)

    def _python(self, spec: ServiceSpec, shared: tuple[tuple[str, str, str], ...]) -> Launch:
        """Our own interpreter when it is self-contained (pyenv, python.org, uv), else the image's."""
        if not sys.base_prefix.startswith("/usr"):
            roots = _outermost([sys.base_prefix, sys.prefix, _source_root()])
            return Launch(self.images["python"], (sys.executable,), spec.argv[1:],
                          mounts=shared + tuple((root, root, "ro") for root in roots))
        if self.source == "local" and _PY != _LOCAL_PYTHON and "python" not in self.images:
            raise ConfigError(f"the local Python image has Python {_LOCAL_PYTHON}, this run {_PY}: "
                              "run the suite with Python 3.11 or set docker.images = \"official\"",
                              "docker.images")
        paths = sysconfig.get_paths()
        roots = _outermost([_source_root(), paths["purelib"], paths["platlib"]])
        return Launch(self.images["python"], ("python3",), spec.argv[1:],
                      env={"PYTHONPATH": ":".join(roots)},
                      mounts=shared + tuple((root, root, "ro") for root in roots))

    def _users_app(self, spec: ServiceSpec, shared: tuple[tuple[str, str, str], ...]) -> Launch:
        """A team's own app: its image (``docker.image.app``) with its folder mounted at the same path."""
        image = self.images.get("app")
        if not image:
            raise ConfigError("docker.image.app: name the image your app runs in, e.g. "
                              'image = { app = "node:20-bookworm" } under [docker]', "docker.image.app")
        folder = ((str(spec.cwd), str(spec.cwd), "rw"),) if spec.cwd else ()
        return Launch(image, (spec.argv[0],), spec.argv[1:], mounts=shared + folder)

    def _toxiproxy(self, spec: ServiceSpec, shared: tuple[tuple[str, str, str], ...]) -> Launch:
        """A Toxiproxy server: ``faults.server``'s binary (mounted read-only into the Python image: it
        needs only libc), else the official image's. Both take the flags our proxy's spec was built with."""
        flags = server_flags(spec)
        if spec.argv[0] != sys.executable:
            binary = spec.argv[0]
            return Launch(self.images["python"], (binary,), flags, mounts=shared + ((binary, binary, "ro"),))
        # The Toxiproxy image is FROM scratch: no shell, its output stays in `docker logs`.
        return Launch(self.images["faultproxy"], ("/toxiproxy",), flags, mounts=shared, shell=False)


def _source_root() -> str:
    """The directory holding the ``infratests`` package (the checkout, or site-packages)."""
    return str(Path(__file__).resolve().parents[3])


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` without duplicates and without those inside another one (one mount each)."""
    unique = sorted(set(paths), key=len)
    return [p for i, p in enumerate(unique)
            if not any(Path(p).is_relative_to(outer) for outer in unique[:i])]
