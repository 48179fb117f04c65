"""``python -m infratests.refapp``: the app contract's entry point (docs/app-contract.md)."""

from __future__ import annotations

import os
import sys
import time


def _process_start_time() -> float:
    """Wall time this process was exec'd (so the logged startup_ms includes interpreter start)."""
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def main() -> int:
    """Parse the environment, log JSON lines, serve until drained; exit 2 on a bad setting."""
    started = _process_start_time()
    from infratests.errors import InfratestsError
    from infratests.refapp.logs import setup_logging
    from infratests.refapp.settings import load_settings

    try:
        settings = load_settings(os.environ)
    except InfratestsError as exc:
        print(f"refapp: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.instance, settings.log_level)
    from infratests.refapp.server import serve

    return serve(settings, exec_started=started)


if __name__ == "__main__":
    sys.exit(main())
