"""Reading a profile: find the invoking folder's file, parse it, expand ``${VAR}``, build the typed
:class:`~infratests.config.Profile`. CLI beats file beats default; every error names the key and the fix."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.secrets import register

__all__ = ["ENVIRONMENT_KEYS", "PROFILE_FILE", "find_profile_file", "load_profile", "parse_overrides"]

PROFILE_FILE = "infratests.toml"


def find_profile_file(folder: Path) -> Path | None:
    """The profile of the folder a command runs in: ``infratests.toml``, else a pyproject.toml with
    ``[tool.infratests]``, in ``folder`` or the nearest parent that has one, up to the repository's
    root (a folder with ``.git``). Never the folder where the suite itself is installed."""
    for candidate in (folder.resolve(), *folder.resolve().parents):
        own = candidate / PROFILE_FILE
        if own.is_file():
            return own
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "infratests" in _read_toml(pyproject).get("tool", {}):
            return pyproject
        if (candidate / ".git").exists():
            return None
    return None


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["a.b=1"]`` -> ``{"a.b": "1"}``; a pair without ``=`` is a usage error."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: write KEY=VALUE, e.g. app.replicas=3", pair)
        overrides[key.strip()] = value.strip()
    return overrides


def load_profile(path: Path | None = None, overrides: Mapping[str, str] | None = None,
                 secrets: bool = True) -> Profile:
    """Build the profile from defaults, then ``path``, then ``overrides`` (``a.b`` -> raw value).
    ``secrets=False`` (a static audit, which reaches no server) leaves an unset ``${VAR}`` as written."""
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"profile file {path} does not exist: fix the path given to --profile "
                              "(--infratests-profile under pytest)", path)
        path = path.resolve()
        data = _read_toml(path)
        raw = data.get("tool", {}).get("infratests", {}) if path.name == "pyproject.toml" else data
    for dotted, text in {**_from_environment(), **(overrides or {})}.items():
        _set_dotted(raw, dotted, _parse_scalar(text))
    raw = _expand(raw, "", secrets)
    base = path.parent if path is not None else Path.cwd()
    return _build(Profile, raw, "", base, path=path, overridden=tuple(overrides or ()), folder=base)


#: Environment variables that set a path key for a whole run, over the file and under the command line:
#: they reach every pytest a run starts (the mutants' own). A relative path starts at the current folder.
ENVIRONMENT_KEYS = {"INFRATESTS_FAULTS_SERVER": "faults.server"}


def _from_environment() -> dict[str, str]:
    return {key: os.path.abspath(os.environ[name]) for name, key in ENVIRONMENT_KEYS.items() if os.environ.get(name)}


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, key: str, required: bool = True) -> Any:
    """``${VAR}`` in any string of the profile, from the environment (secrets stay out of the file);
    an unset variable is an error naming the key, except under ``[external]``, which only the external
    backend reads (it names the variable then): a staging secret is not needed to run the gate.
    Expanded values are masked wherever they appear."""
    if isinstance(value, dict):
        return {name: _expand(item, f"{key}{name}." if isinstance(item, dict) else f"{key}{name}", required)
                for name, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, key, required) for item in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in os.environ and (not required or key.startswith("external.")):
            return found.group(0)
        if name not in os.environ:
            raise ConfigError(f"{key}: ${{{name}}} is not set in the environment: export it (CI: a secret)", key)
        register(os.environ[name])
        return os.environ[name]
    return _VARIABLE.sub(lookup, value)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}", path) from None


def _parse_scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    node = raw
    for section in sections:
        node = node.setdefault(section, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {section} is not a section", dotted)
    node[key] = value


def _build(cls: type, raw: Mapping[str, Any], prefix: str, base: Path, **fixed: Any) -> Any:
    """``cls`` from the profile's ``raw`` table; ``fixed`` fields are the loader's, never keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - set(fixed)
    for key in raw:
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=1)
            hint = f"did you mean {prefix}{close[0]}?" if close else f"known keys: {', '.join(sorted(names))}"
            raise ConfigError(f"unknown key {prefix}{key}: {hint}", f"{prefix}{key}")
    values = {key: _convert(hints[key], value, f"{prefix}{key}", base) for key, value in raw.items()}
    try:
        return cls(**values, **fixed)
    except TypeError as error:
        raise ConfigError(f"{prefix or 'profile'}: {error}", prefix) from None


def _convert(hint: Any, value: Any, key: str, base: Path) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a table ([{key}]), got {value!r}", key)
        return _build(typing.cast(type, hint), value, f"{key}.", base)
    if origin in (typing.Union, types.UnionType):
        if value is None or value == "":
            return None
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(inner, value, key, base)
    if hint is Path:
        _expect(isinstance(value, str), key, value, "a path string")
        return base / value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        _expect(isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value),
                key, value, f"a list of {'whole numbers' if item is int else 'strings'}")
        return tuple(value)
    if origin is Mapping:
        _expect(isinstance(value, Mapping), key, value, "a table of key = value")
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
    return _convert_scalar(hint, value, key)


def _convert_scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is bool:
        _expect(isinstance(value, bool), key, value, "true or false")
    elif hint is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), key, value, "a whole number")
    elif hint is float:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), key, value, "a number")
        return float(value)
    elif hint is str:
        _expect(isinstance(value, str), key, value, "a string (in quotes)")
    return value


def _expect(ok: bool, key: str, value: Any, what: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} has the wrong type: write {what}", key)
