"""A team's own configuration files, read without starting anything: which kind each file is, and
the settings the promises cover, each with the ``file:line`` that sets it (or the server's default,
named as such, when the file leaves it out).

Kinds: ``nginx`` (with its includes, parsed by crossplane), ``pgbouncer`` (``pgbouncer.ini``),
``redis`` (``redis.conf``), ``postgres`` (``postgresql.conf``), ``dotenv`` (``.env``) and ``pm2``
(``ecosystem.config.js``, evaluated by Node as PM2 itself does).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infratests.checks.promises import Setting
from infratests.errors import ConfigError

__all__ = ["KINDS", "ConfigFile", "Pm2App", "discover", "kind_of", "line_of", "read_dotenv", "read_pm2",
           "read_settings", "shown"]

KINDS = ("nginx", "pgbouncer", "redis", "postgres", "dotenv", "pm2")
_NGINX_BLOCK = re.compile(r"^\s*(http|server|events|upstream|location)\b[^;]*\{", re.MULTILINE)


@dataclass(frozen=True)
class ConfigFile:
    """A file to audit and what kind of configuration it is."""

    path: Path
    kind: str

    @property
    def shown(self) -> str:
        return shown(self.path)

    def at(self, line: int) -> str:
        return f"{self.shown}:{line}"


@dataclass(frozen=True)
class Pm2App:
    """One app of a PM2 ecosystem file: its environment and the process options the claims are about."""

    name: str
    env: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)


def shown(path: Path) -> str:
    """A path as the findings name it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def kind_of(path: Path) -> str | None:
    """The kind of configuration in ``path``, from its name, else its content; None when unknown."""
    name = path.name.lower()
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return "dotenv"
    if name.startswith("ecosystem") and name.endswith((".js", ".cjs", ".json")):
        return "pm2"
    for kind, word in (("pgbouncer", "pgbouncer"), ("redis", "redis"), ("postgres", "postgresql"),
                       ("nginx", "nginx")):
        if word in name and name.endswith((".ini", ".conf")):
            return kind
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    if re.search(r"^\s*\[pgbouncer\]", text, re.MULTILINE):
        return "pgbouncer"
    if re.search(r"^\s*(appendonly|maxmemory-policy|appendfsync)\s", text, re.MULTILINE):
        return "redis"
    if re.search(r"^\s*(max_connections|shared_buffers|listen_addresses)\s*=", text, re.MULTILINE):
        return "postgres"
    return "nginx" if _NGINX_BLOCK.search(text) else None


def discover(target: str) -> list[ConfigFile]:
    """The files ``target`` names: a file (``kind=path`` forces its kind), or a folder's files whose kind
    is known (in a folder with ``nginx.conf``, only that one of its nginx files: it includes the rest)."""
    kind, sep, rest = target.partition("=")
    if sep and kind in KINDS:
        path = Path(rest)
        if not path.is_file():
            raise ConfigError(f"audit: {rest} is not a file", rest)
        return [ConfigFile(path.resolve(), kind)]
    path = Path(target)
    if path.is_file():
        found = kind_of(path)
        if found is None:
            raise ConfigError(f"audit: cannot tell what {target} configures: name it nginx.conf, pgbouncer.ini, "
                              f"redis.conf, postgresql.conf, .env or ecosystem.config.js, or say KIND={target} "
                              f"({', '.join(KINDS)})", target)
        return [ConfigFile(path.resolve(), found)]
    if not path.is_dir():
        raise ConfigError(f"audit: {target} does not exist", target)
    files = [ConfigFile(child.resolve(), child_kind) for child in sorted(path.iterdir())
             if child.is_file() and (child_kind := kind_of(child))]
    if any(f.kind == "nginx" and f.path.name == "nginx.conf" for f in files):
        files = [f for f in files if f.kind != "nginx" or f.path.name == "nginx.conf"]
    return files


def read_settings(config: ConfigFile) -> list[Setting]:
    """The promise-covered settings of a ``pgbouncer``, ``redis`` or ``postgres`` file, under the keys
    the effective configuration uses; a setting the file leaves out has the server's default."""
    reader = _READERS[config.kind]
    return list(reader(config))


def _lines(config: ConfigFile) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(config.path.read_text(errors="replace").splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip() if config.kind != "postgres" else \
            raw.split("#", 1)[0].strip()
        if line:
            yield number, line


def _collect(config: ConfigFile, pattern: str, keys: Mapping[str, tuple[str, Callable[[str], Any], Any]],
             section: str | None = None) -> Iterator[Setting]:
    """The last value of each file name in ``keys`` (name -> (key, parse, server default))."""
    found: dict[str, Setting] = {}
    current = None
    for number, line in _lines(config):
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip().lower()
            continue
        match = re.fullmatch(pattern, line)
        if match and (section is None or current == section) and match["name"].lower() in keys:
            name = match["name"].lower()
            key, parse, _ = keys[name]
            try:
                value = parse(match["value"].strip().strip("'\""))
            except ValueError:
                raise ConfigError(f"audit: {config.at(number)}: {name} = {match['value']!r} is not a valid value",
                                  config.shown) from None
            found[name] = Setting(key, value, config.at(number))
    for name, (key, _, default) in keys.items():
        yield found.get(name) or Setting(key, default, f"{config.shown} (not set: the default)")


def _pgbouncer(config: ConfigFile) -> Iterator[Setting]:
    keys = {"pool_mode": ("pgbouncer.pool_mode", str, "session"),
            "default_pool_size": ("pgbouncer.default_pool_size", int, 20),
            "reserve_pool_size": ("pgbouncer.reserve_pool_size", int, 0),
            "max_client_conn": ("pgbouncer.max_client_conn", int, 100)}
    return _collect(config, r"(?P<name>[\w.]+)\s*=\s*(?P<value>.*)", keys, section="pgbouncer")


def _redis(config: ConfigFile) -> Iterator[Setting]:
    from infratests.stack.effective import redis_bytes

    keys = {"appendonly": ("redis.appendonly", _yes, False),
            "appendfsync": ("redis.appendfsync", str.lower, "everysec"),
            "maxmemory": ("redis.maxmemory", redis_bytes, 0),
            "maxmemory-policy": ("redis.maxmemory_policy", str.lower, "noeviction")}
    return _collect(config, r"(?P<name>[\w-]+)\s+(?P<value>.+)", keys)


def _postgres(config: ConfigFile) -> Iterator[Setting]:
    keys = {"max_connections": ("postgres.max_connections", int, 100),
            "superuser_reserved_connections": ("postgres.superuser_reserved_connections", int, 3)}
    return _collect(config, r"(?P<name>\w+)\s*=?\s*(?P<value>.+)", keys)


def _yes(text: str) -> bool:
    if text.lower() not in ("yes", "no"):
        raise ValueError(text)
    return text.lower() == "yes"


_READERS: dict[str, Callable[[ConfigFile], Iterator[Setting]]] = {
    "pgbouncer": _pgbouncer, "redis": _redis, "postgres": _postgres}


def read_dotenv(config: ConfigFile) -> dict[str, Setting]:
    """``KEY=value`` lines (``export`` and quotes allowed) by variable name, each with its line."""
    found = {}
    for number, raw in enumerate(config.path.read_text(errors="replace").splitlines(), 1):
        match = re.fullmatch(r"\s*(?:export\s+)?(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*", raw)
        if match and not raw.lstrip().startswith("#"):
            value = match["value"]
            if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) > 1:
                value = value[1:-1]
            else:
                value = value.split(" #", 1)[0].strip()
            found[match["name"]] = Setting(match["name"], value, config.at(number))
    return found


# Prints the ecosystem file's apps as JSON; the file is a Node module, as PM2 loads it.
_PM2_DUMP = ("const c = require(process.argv[1]); const apps = c.apps || (Array.isArray(c) ? c : [c]);"
             "process.stdout.write(JSON.stringify(apps))")


def read_pm2(config: ConfigFile, env_name: str = "production") -> list[Pm2App]:
    """The apps of a PM2 ecosystem file, each with ``env`` overlaid by ``env_<env_name>`` (PM2's
    ``--env``); a ``.json`` file is read directly, a ``.js`` one evaluated by ``node``."""
    if config.path.suffix == ".json":
        data = json.loads(config.path.read_text())
        apps = data.get("apps", data) if isinstance(data, dict) else data
    else:
        node = shutil.which("node")
        if node is None:
            raise ConfigError(f"audit: {config.shown} is a Node module and node is not installed: install Node.js "
                              "or pass the ecosystem as JSON", config.shown)
        done = subprocess.run([node, "-e", _PM2_DUMP, str(config.path)], capture_output=True, text=True,
                              timeout=20, cwd=config.path.parent)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(f"audit: node could not load {config.shown}: {last}", config.shown)
        apps = json.loads(done.stdout)
    found = []
    for app in apps if isinstance(apps, list) else [apps]:
        env = {**{k: str(v) for k, v in (app.get("env") or {}).items()},
               **{k: str(v) for k, v in (app.get(f"env_{env_name}") or {}).items()}}
        options = {k: v for k, v in app.items() if not k.startswith("env")}
        found.append(Pm2App(str(app.get("name") or app.get("script") or "app"), env, options))
    return found


def line_of(config: ConfigFile, word: str) -> str:
    """``file:line`` of the first line that mentions ``word`` (for values a program computed)."""
    for number, line in enumerate(config.path.read_text(errors="replace").splitlines(), 1):
        if re.search(rf"\b{re.escape(word)}\b", line):
            return config.at(number)
    return config.at(1)
