"""``python -m infratests.faults.toxiproxy [--host H] [--port N] [--config FILE]``.

Single-dash spellings (``-host``, ``-port``, ``-config``) are accepted as the
real toxiproxy-server takes them. Proxies from ``--config`` listen before the
API answers; SIGTERM/SIGINT close everything and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from . import serve
from .errors import ApiError


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infratests.faults.toxiproxy")
    parser.add_argument("--host", "-host", default="localhost", help="API address (default localhost)")
    parser.add_argument("--port", "-port", type=int, default=8474, help="API port (default 8474, 0 = any)")
    parser.add_argument("--config", "-config", help="JSON array of proxies (the /populate format)")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    config = None
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = json.load(fh)
    try:
        api, (host, port) = await serve(args.host, args.port, config)
    except (ApiError, OSError) as exc:
        print(f"toxiproxy: cannot start: {exc}", file=sys.stderr)
        return 1
    print(f"toxiproxy API listening on {host}:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await api.close()
    await api.registry.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    try:
        import uvloop
    except ImportError:  # plain asyncio still works, only slower
        return asyncio.run(_main(args))
    return uvloop.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
