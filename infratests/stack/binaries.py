"""Finding a server's binary: the profile's ``[binaries]`` path, else the system's."""

from __future__ import annotations

import shutil
from pathlib import Path

from infratests.errors import ConfigError

__all__ = ["find_binary"]


def find_binary(configured: Path | None, command: str, key: str, package: str) -> Path:
    """``configured`` if set, else ``command`` on PATH or in /usr/sbin; the error names the fix."""
    found = configured or shutil.which(command, path="/usr/local/bin:/usr/sbin:/usr/bin")
    if not found or not Path(found).is_file():
        raise ConfigError(f"binaries.{key}: {command} not found; install it "
                          f"(apt-get install -y {package}) or set binaries.{key}", f"binaries.{key}")
    return Path(found)
