"""Ctrl-C's traceback, made printable.

CPython 3.11 can deliver a signal at an instruction that has no line number (the cleanup of an
exception handler, such as ``PUSH_EXC_INFO``): that frame's traceback entry then has ``tb_lineno``
None, and pytest's report of the interrupt fails on it with a TypeError, so the run ends with exit 1
and pytest's own traceback instead of reporting the interrupt (exit 2; ``infratests gate``: 130).
"""

from __future__ import annotations

from types import TracebackType

__all__ = ["make_printable", "without_unnumbered_entries"]


def without_unnumbered_entries(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without the entries that have no line number; the others unchanged and in order."""
    kept: list[TracebackType] = []
    while tb is not None:
        if tb.tb_lineno is not None:
            kept.append(tb)
        tb = tb.tb_next
    rebuilt: TracebackType | None = None
    for entry in reversed(kept):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def make_printable(error: BaseException) -> None:
    """Leave out the unnumbered entries of ``error``'s traceback and of every exception it chains."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = without_unnumbered_entries(current.__traceback__)
        pending.extend(chained for chained in (current.__cause__, current.__context__) if chained is not None)
