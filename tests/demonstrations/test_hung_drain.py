"""Demonstration, not a claim: the reference app's drain made to hang with a knob ends in its forced exit.

C-GS-3 for any app is judged by ``scenarios/test_graceful_shutdown.py`` through the contract (an
in-flight request longer than the kill timeout); this staging needs the reference app's own knob.
"""

from __future__ import annotations

import time

from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.plugin import StackFactory


def test_hung_drain_is_forced_to_exit_after_the_kill_timeout(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-GS-3: a drain that never completes ends in a forced, non-zero exit at the kill timeout."""
    kill_timeout_ms = 2000
    hang = {"app.command": "[]", "app.replicas": "1", "app.env.REFAPP_HANG_ON_DRAIN": "on",
            "app.env.REFAPP_DRAIN_DELAY_MS": "200", "app.env.REFAPP_KILL_TIMEOUT_MS": str(kill_timeout_ms)}
    kill_s, patience_s = kill_timeout_ms / 1000, kill_timeout_ms / 1000 + 8.0
    with stack_factory(hang) as private:
        signalled = time.monotonic()
        code = Nemesis(private, recorder).terminate("app-1", timeout=patience_s)
        took = time.monotonic() - signalled
    assert code is not None, (f"C-GS-3 violated: app-1's drain hung and it was still running {took:.1f} s after "
                              f"SIGTERM (kill timeout {kill_s:g} s): no forced exit")
    assert code != 0 and 0.9 * kill_s <= took, (
        f"C-GS-3 violated: hung drain ended with exit code {code} after {took:.1f} s; want a non-zero "
        f"forced exit at the kill timeout ({kill_s:g} s)")
