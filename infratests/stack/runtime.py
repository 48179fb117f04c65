"""Where a spec's server will run, as the service modules need to know it when they build the spec.

On this machine (the local backend) servers bind 127.0.0.1 and their binaries
are looked up here. In containers they may bind all addresses of their pod,
their binaries are the image's (Debian's paths, which the official images
share or the image plan maps to a name on the image's PATH), and what must
run before a server starts (Postgres's initdb) runs in the server's image: the
machine running the suite then needs no server packages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infratests.stack.binaries import find_binary
from infratests.stack.ports import LOOPBACK

if TYPE_CHECKING:
    from infratests.stack.docker.oneoff import OneOff

__all__ = ["ON_HOST", "Runtime"]


@dataclass(frozen=True)
class Runtime:
    """``bind`` is the address servers listen on; ``oneoff`` gives a runner of a kind's image
    (None: servers run on this machine)."""

    bind: str = LOOPBACK
    oneoff: Callable[[str], OneOff] | None = None

    @property
    def on_host(self) -> bool:
        return self.oneoff is None

    def binary(self, configured: Path | None, command: str, key: str, package: str, image_path: str) -> Path:
        """The server's binary: here, ``configured`` or found on PATH (an error names the package);
        in a container, ``configured`` or the image's ``image_path``."""
        if self.on_host:
            return find_binary(configured, command, key, package)
        return configured or Path(image_path)


ON_HOST = Runtime()
