"""Checks done BEFORE Locust starts, each failing with one clear :class:`InfratestsError`.

Nothing here imports locust (gevent would patch the caller's process):
user classes are found by reading the locustfiles' source with :mod:`ast`.
"""

from __future__ import annotations

import ast
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from infratests.errors import ConfigError, ServiceError
from infratests.resources import locustfiles_dir

__all__ = [
    "check_positive",
    "check_user_classes",
    "declared_classes",
    "host_address",
    "probe_host",
    "resolve_locustfile",
]

def resolve_locustfile(name: str | Path) -> Path:
    """A path as given, or a bare name (``api_mix`` / ``api_mix.py``) among the built-in locustfiles."""
    builtin = locustfiles_dir()
    candidates = [Path(name)]
    if not Path(name).is_absolute() and len(Path(name).parts) == 1:
        stem = str(name).removesuffix(".py")
        candidates.append(builtin / f"{stem}.py")
    for path in candidates:
        if path.is_file() and path.suffix == ".py":
            return path.resolve()
    known = sorted(p.stem for p in builtin.glob("[!_]*.py"))
    raise ConfigError(f"unknown locustfile {str(name)!r}: no such .py file "
                      f"(built-in locustfiles: {', '.join(known) or 'none'})", name)


def declared_classes(path: Path) -> set[str]:
    """Top-level class names defined or imported by a locustfile."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ConfigError(f"locustfile {path} does not parse: {exc}", path) from exc
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def check_user_classes(files: Iterable[Path], wanted: Iterable[str]) -> None:
    """Every requested user class must be declared in one of ``files``."""
    files = list(files)
    declared = set().union(*(declared_classes(path) for path in files))
    for name in wanted:
        if name not in declared:
            defined = sorted(n for path in files for n in declared_classes(path) if n[:1].isupper())
            raise ConfigError(f"unknown user class {name!r}: not in {', '.join(p.name for p in files)} "
                              f"(classes there: {', '.join(defined) or 'none'})", name)


def check_positive(**values: float | None) -> None:
    """``check_positive(users=10, duration_s=5)``: each given value must be > 0 (None skips)."""
    for key, value in values.items():
        if value is not None and not value > 0:
            raise ConfigError(f"{key} must be > 0, got {value!r}", key)


def host_address(host: str) -> tuple[str, int]:
    """(hostname, port) of an ``http(s)://`` base URL; the port defaults by scheme."""
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"host must be an http:// or https:// URL, got {host!r}", host)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"host {host!r} has a bad port: {exc}", host) from exc
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def probe_host(host: str, timeout_s: float = 2.0) -> None:
    """A TCP connect to the host's port must succeed within ``timeout_s``."""
    address = host_address(host)
    try:
        with socket.create_connection(address, timeout=timeout_s):
            pass
    except OSError as exc:
        raise ServiceError(f"host {host} is unreachable: TCP connect to "
                           f"{address[0]}:{address[1]} failed ({exc})", host) from exc
