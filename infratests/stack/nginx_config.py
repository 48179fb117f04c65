"""An nginx configuration as nginx reads it (includes followed), parsed by crossplane, with the values
the claims are about: rate-limit zones by the locations they guard, gzip, upstream keepalive and
health checks, security headers, TLS protocols, listeners. Used for the running stack's effective
configuration and by ``infratests audit`` on a team's own files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError

__all__ = ["Directive", "NginxConfig", "ZONE_LOCATIONS"]

#: The claims' rate-limit zones (C-NGX-4) by the location prefix they guard.
ZONE_LOCATIONS = {"auth": "/auth", "webhook": "/webhooks", "api": "/"}


@dataclass(frozen=True)
class Directive:
    """One directive with its arguments, where it is, and the blocks it sits in (outermost first;
    ``blocks`` names each by its file and line)."""

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    parents: tuple[tuple[str, tuple[str, ...]], ...]
    blocks: tuple[tuple[str, int], ...] = ()

    @property
    def where(self) -> str:
        return f"{Path(self.file).name} line {self.line}"

    def inside(self, block: str) -> tuple[str, ...] | None:
        """The arguments of the innermost enclosing ``block`` (``location``, ``server``...), if any."""
        for name, args in reversed(self.parents):
            if name == block:
                return args
        return None


class NginxConfig:
    """Every directive of a configuration, in file order, with its context."""

    def __init__(self, directives: Sequence[Directive], missing: Sequence[str] = ()) -> None:
        self.directives = list(directives)
        self.missing = list(missing)  # "file line N: path" of each include that names no file here

    @classmethod
    def load(cls, path: Path) -> NginxConfig:
        """Parse ``path`` and its includes; an include of a file that is not here (``mime.types`` on a
        machine without nginx) is listed in ``missing``, any other error raises :class:`ConfigError`."""
        import crossplane  # type: ignore[import-untyped]

        parsed = crossplane.parse(str(path), combine=True, check_ctx=False, check_args=False, comments=False)
        missing = [f"{error.get('file', path)} line {error.get('line')}: {error['error'].split(': ', 1)[-1]}"
                   for error in parsed["errors"] if "No such file" in error["error"]]
        errors = [error for error in parsed["errors"] if "No such file" not in error["error"]]
        if errors:
            error = errors[0]
            raise ConfigError(f"{error.get('file', path)} line {error.get('line')}: {error['error']}", path)
        found: list[Directive] = []
        for config in parsed["config"]:
            found += _walk(config["parsed"], config["file"])
        return cls(found, missing)

    def named(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]

    def first(self, name: str) -> Directive | None:
        return next(iter(self.named(name)), None)

    def zone_rates(self) -> dict[str, tuple[float, Directive]]:
        """``limit_req_zone`` rates in requests per second, by zone name."""
        rates = {}
        for d in self.named("limit_req_zone"):
            params = _params(d.args)
            if "zone" in params and "rate" in params:
                rates[params["zone"].split(":")[0]] = (_per_second(params["rate"]), d)
        return rates

    def limit_for(self, prefix: str) -> Directive | None:
        """The ``limit_req`` of the location that serves ``prefix`` (an exact prefix match first)."""
        limits = [d for d in self.named("limit_req") if d.inside("location") is not None]
        for d in limits:
            if (d.inside("location") or ())[-1:] == (prefix if prefix == "/" else prefix + "/",) or \
                    (d.inside("location") or ())[-1:] == (prefix,):
                return d
        return None

    def settings(self) -> list[tuple[str, int | float, Directive]]:
        """The profile's ``nginx.*`` numbers as this configuration sets them: (key, value, directive)."""
        found: list[tuple[str, int | float, Directive]] = []
        rates = self.zone_rates()
        for zone, prefix in ZONE_LOCATIONS.items():
            limit = self.limit_for(prefix)
            params = _params(limit.args) if limit else {}
            rate = rates.get(params.get("zone", ""))
            if rate is not None:
                found.append((f"nginx.rate_{zone}_rps", _number(rate[0]), rate[1]))
            if zone == "api" and limit is not None and "burst" in params:
                found.append(("nginx.rate_api_burst", int(params["burst"]), limit))
        for key, name in (("nginx.gzip_min_length", "gzip_min_length"), ("nginx.keepalive", "keepalive")):
            directive = next((d for d in self.named(name)
                              if name != "keepalive" or d.inside("upstream") is not None), None)
            if directive is not None:
                found.append((key, int(directive.args[0]), directive))
        server = next((d for d in self.named("server") if d.inside("upstream") is not None), None)
        if server is not None:
            params = _params(server.args[1:])
            found += [("nginx.max_fails", int(params.get("max_fails", "1")), server),
                      ("nginx.fail_timeout_s", _seconds(params.get("fail_timeout", "10s")), server)]
        return found

    def in_scope(self, name: str, at: Directive) -> list[Directive]:
        """The ``name`` directives that apply at ``at`` (a ``location`` or ``server`` block directive), by
        nginx's inheritance: those of the innermost level that has any (``add_header``,
        ``proxy_set_header`` and the like are replaced as a whole, never merged)."""
        levels = [*at.blocks, (at.file, at.line)]
        while levels:
            here = [d for d in self.named(name) if d.blocks == tuple(levels)]
            if here:
                return here
            levels.pop()
        return [d for d in self.named(name) if not d.blocks]

    def blocks(self, name: str) -> list[Directive]:
        """The block directives called ``name`` (``server``, ``location``) outside ``upstream``."""
        return [d for d in self.named(name) if d.inside("upstream") is None]


def _walk(block: list[dict[str, Any]], file: str, parents: tuple[tuple[str, tuple[str, ...]], ...] = (),
          blocks: tuple[tuple[str, int], ...] = ()) -> Iterator[Directive]:
    for item in block:
        directive = Directive(item["directive"], tuple(item.get("args", ())), item.get("file", file),
                              item["line"], parents, blocks)
        yield directive
        if "block" in item:
            yield from _walk(item["block"], directive.file, (*parents, (directive.name, directive.args)),
                             (*blocks, (directive.file, directive.line)))


def _params(args: Sequence[str]) -> dict[str, str]:
    return dict(arg.split("=", 1) for arg in args if "=" in arg)


def _per_second(rate: str) -> float:
    number, unit = rate.split("r/")
    return float(number) / (60 if unit == "m" else 1)


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _seconds(text: str) -> int:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(text)
