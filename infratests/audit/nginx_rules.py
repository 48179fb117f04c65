"""What an nginx configuration must say for the proxy claims to hold, read statically: HTTP/2 on TLS
and the redirect (C-NGX-1), gzip from the promised size with Vary (C-NGX-2), upstream keepalive that
nginx can use (C-NGX-3), the rate zones on their locations (C-NGX-4), security headers and TLS 1.2+
in every location that answers (C-NGX-5, with nginx's ``add_header`` inheritance: a location with
one ``add_header`` of its own drops all of the server's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infratests.checks.promises import Finding, Setting, server_findings
from infratests.stack.nginx_config import ZONE_LOCATIONS, Directive, NginxConfig

__all__ = ["nginx_findings"]

_REQUIRED_HEADERS = {"strict-transport-security": None, "x-frame-options": "sameorigin",
                     "x-content-type-options": "nosniff", "content-security-policy": None}
_OLD_TLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"}
_NGINX_DEFAULT_PROTOCOLS = "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"  # nginx 1.22's ssl_protocols default


def nginx_findings(config: NginxConfig, promises: Any, at: Callable[[Directive], str], main: str) -> list[Finding]:
    """Every proxy claim the configuration breaks; ``at`` names a directive's ``file:line``, ``main`` the
    file for what is missing altogether."""
    settings = {key: Setting(key, value, at(directive)) for key, value, directive in config.settings()}
    found = server_findings(promises, settings)
    tls_servers = [s for s in config.blocks("server") if _listens_tls(config, s)]
    found += _gzip(config, promises, at, main)
    found += _keepalive(config, promises, at)
    found += _rate_zones(config, promises, at, main)
    found += _http2_and_redirect(config, tls_servers, at, main)
    for server in tls_servers:
        found += _tls_protocols(config, server, at)
        for scope in [server, *_locations_of(config, server)]:
            found += _headers(config, scope, at)
    return found


def _listens_tls(config: NginxConfig, server: Directive) -> bool:
    return any("ssl" in d.args for d in config.in_scope("listen", server))


def _locations_of(config: NginxConfig, server: Directive) -> list[Directive]:
    key = (server.file, server.line)
    return [d for d in config.blocks("location") if key in d.blocks]


def _gzip(config: NginxConfig, promises: Any, at: Callable[[Directive], str], main: str) -> list[Finding]:
    gzip = config.first("gzip")
    if gzip is None or gzip.args[:1] != ("on",):
        where = at(gzip) if gzip else main
        return [Finding("C-NGX-2", "gzip is not on: text and JSON bodies go out uncompressed", where)]
    found = []
    if config.first("gzip_min_length") is None:
        found.append(Finding("C-NGX-2", f"gzip_min_length is not set: nginx compresses from 20 bytes, the promise "
                                        f"is {promises.gzip_min_length}", at(gzip)))
    vary = config.first("gzip_vary")
    if vary is None or vary.args[:1] != ("on",):
        found.append(Finding("C-NGX-2", "gzip_vary is not on: no Vary: Accept-Encoding, caches may serve gzip "
                                        "to clients that cannot read it", at(vary or gzip)))
    types = config.first("gzip_types")
    if types is None or not {"application/json", "*"} & set(types.args):
        found.append(Finding("C-NGX-2", "gzip_types leaves out application/json: JSON bodies are never "
                                        "compressed", at(types or gzip)))
    return found


def _keepalive(config: NginxConfig, promises: Any, at: Callable[[Directive], str]) -> list[Finding]:
    """With ``keepalive`` in an upstream, every location that proxies must speak HTTP/1.1 and clear
    ``Connection`` (nginx sends ``Connection: close`` otherwise, and keepalive never happens)."""
    upstreams = [d for d in config.named("upstream") if d.inside("http") is not None]
    if not any(d.inside("upstream") is not None for d in config.named("keepalive")):
        return [Finding("C-NGX-3", f"upstream {' '.join(u.args)} has no keepalive (promised "
                                   f"{promises.upstream_keepalive}): a new connection per request", at(u))
                for u in upstreams if promises.upstream_keepalive > 0]
    found = []
    for location in config.blocks("location"):
        if not _directly_in(config, "proxy_pass", location):
            continue
        version = config.in_scope("proxy_http_version", location)
        if not version or version[-1].args[:1] != ("1.1",):
            found.append(Finding("C-NGX-3", f"location {' '.join(location.args)} proxies with HTTP/1.0 "
                                            "(proxy_http_version 1.1 not in scope): no upstream keepalive",
                                 at(location)))
        headers = {d.args[0].lower(): d for d in config.in_scope("proxy_set_header", location) if d.args}
        if "connection" not in headers:
            found.append(Finding("C-NGX-3", f"location {' '.join(location.args)} does not clear Connection "
                                            "(proxy_set_header Connection \"\" not in scope): nginx closes "
                                            "every upstream connection", at(location)))
    return found


def _directly_in(config: NginxConfig, name: str, block: Directive) -> list[Directive]:
    return [d for d in config.named(name) if d.blocks[-1:] == ((block.file, block.line),)]


def _rate_zones(config: NginxConfig, promises: Any, at: Callable[[Directive], str], main: str) -> list[Finding]:
    found = []
    rates = config.zone_rates()
    for zone, prefix in ZONE_LOCATIONS.items():
        limit = config.limit_for(prefix)
        promised = getattr(promises, f"rate_{zone}_rps")
        if limit is None:
            location = next((d for d in config.blocks("location") if d.args[-1:] in ((prefix,), (prefix + "/",))),
                            None)
            found.append(Finding("C-NGX-4", f"no limit_req on location {prefix} (the {zone} zone, promised "
                                            f"{promised} r/s)", at(location) if location else main))
            continue
        zone_name = dict(arg.split("=", 1) for arg in limit.args if "=" in arg).get("zone", "")
        if zone_name not in rates:
            found.append(Finding("C-NGX-4", f"limit_req uses zone {zone_name!r}, which no limit_req_zone defines",
                                 at(limit)))
    return found


def _http2_and_redirect(config: NginxConfig, tls_servers: list[Directive], at: Callable[[Directive], str],
                        main: str) -> list[Finding]:
    found = []
    for server in tls_servers:
        listens = [d for d in config.in_scope("listen", server) if "ssl" in d.args]
        http2_on = any(d.args[:1] == ("on",) for d in config.in_scope("http2", server))
        if not http2_on and not any("http2" in d.args for d in listens):
            found.append(Finding("C-NGX-1", "a TLS listener without HTTP/2 (listen ... ssl http2, or http2 on)",
                                 at(listens[0])))
    if not tls_servers:
        found.append(Finding("C-NGX-1", "no server listens with TLS (listen ... ssl)", main))
    for server in config.blocks("server"):
        if _listens_tls(config, server) or not config.in_scope("listen", server):
            continue
        returns = [d for d in config.named("return") if (server.file, server.line) in d.blocks]
        if not any(d.args[:1] in (("301",), ("302",), ("307",), ("308",)) and d.args[1:2]
                   and d.args[1].startswith("https://") for d in returns):
            found.append(Finding("C-NGX-1", "a plain-HTTP server does not redirect to https:// "
                                            "(return 301 https://$host$request_uri)",
                                 at(config.in_scope("listen", server)[0])))
    return found


def _tls_protocols(config: NginxConfig, server: Directive, at: Callable[[Directive], str]) -> list[Finding]:
    protocols = config.in_scope("ssl_protocols", server)
    enabled = set(protocols[-1].args) if protocols else set(_NGINX_DEFAULT_PROTOCOLS.split())
    old = sorted(enabled & _OLD_TLS)
    if not old:
        return []
    where = at(protocols[-1]) if protocols else at(server)
    said = "ssl_protocols" if protocols else f"ssl_protocols is not set (nginx's default {_NGINX_DEFAULT_PROTOCOLS})"
    return [Finding("C-NGX-5", f"{said} allows {' '.join(old)}: only TLS 1.2+ may be offered", where)]


def _headers(config: NginxConfig, scope: Directive, at: Callable[[Directive], str]) -> list[Finding]:
    """Security headers in force at a server or location (not for ``return``-only plain answers)."""
    headers = {d.args[0].lower(): d for d in config.in_scope("add_header", scope) if d.args}
    label = "server" if scope.name == "server" else f"location {' '.join(scope.args)}"
    found = []
    missing = [name for name, value in _REQUIRED_HEADERS.items()
               if name not in headers or (value and value not in " ".join(headers[name].args[1:]).lower())]
    own = bool(_directly_in(config, "add_header", scope))
    if missing and (scope.name == "server" or own):
        why = " (its own add_header replaces the server's)" if scope.name == "location" else ""
        found.append(Finding("C-NGX-5", f"{label} sends no {', '.join(missing)}{why}", at(scope)))
    if "x-xss-protection" in headers:
        found.append(Finding("C-NGX-5", "X-XSS-Protection is sent (deprecated: it can open XSS holes)",
                             at(headers["x-xss-protection"])))
    return found
