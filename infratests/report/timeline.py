"""A history as a picture (Jepsen's latency and rate graphs): every client operation's latency over
time, coloured by its outcome, with the nemesis' fault windows shaded and labelled; below it the
throughput and the error rate per interval. Time is seconds since the history's first operation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from infratests.history import History, Op, OpType

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["write_timeline"]

_COLOURS = {OpType.OK: "#2b8a3e", OpType.FAIL: "#c92a2a", OpType.INFO: "#e67700"}
_LABELS = {OpType.OK: "ok", OpType.FAIL: "fail (certainly not done)", OpType.INFO: "info (no answer: maybe done)"}
_FAULT_COLOURS = ("#4263eb", "#ae3ec9", "#1098ad", "#f08c00", "#5c940d")


def write_timeline(history: History, path: Path, title: str) -> Path | None:
    """Draw ``history`` into the PNG ``path``; None (nothing written) when it has no completed client
    operation and no fault."""
    pairs = [(inv, comp) for inv, comp in history.client_ops().pairs() if comp is not None]
    faults = history.fault_windows()
    if not pairs and not faults:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    origin = min([inv.time for inv, _ in pairs] + [w.start for w in faults])
    end = max([comp.time for _, comp in pairs] + [w.end for w in faults if w.end != math.inf] + [origin + 1])
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1.4]})
    for kind in (OpType.OK, OpType.INFO, OpType.FAIL):
        points = [(inv.time - origin, max((comp.time - inv.time) * 1000, 0.01))
                  for inv, comp in pairs if comp.type is kind]
        if points:
            xs, ys = zip(*points, strict=True)
            top.scatter(xs, ys, s=9 if kind is OpType.OK else 18, c=_COLOURS[kind], alpha=0.75,
                        label=f"{_LABELS[kind]} ({len(points)})", linewidths=0)
    for index, window in enumerate(faults):
        colour = _FAULT_COLOURS[index % len(_FAULT_COLOURS)]
        start, stop = window.start - origin, (window.end if window.end != math.inf else end) - origin
        for axis in (top, bottom):
            axis.axvspan(start, max(stop, start + 0.02), color=colour, alpha=0.15, linewidth=0)
        top.annotate(window.label, xy=(start, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(2, -12 - 11 * (index % 4)), textcoords="offset points", fontsize=8, color=colour)
    top.set_yscale("log")
    top.set_ylabel("latency (ms, log)")
    top.set_title(title, fontsize=10)
    if pairs:
        top.legend(loc="upper right", fontsize=8)
    top.grid(True, which="major", alpha=0.3)
    _rates(bottom, pairs, origin, end)
    bottom.set_xlabel("seconds since the first operation (shaded: faults in force)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _rates(axis: Axes, pairs: list[tuple[Op, Op]], origin: float, end: float) -> None:
    """Completions per second and the share that failed or got no answer, per interval."""
    span = max(end - origin, 1.0)
    width = max(span / 60, 0.25)
    bins = int(math.ceil(span / width)) + 1
    done, bad = [0] * bins, [0] * bins
    for _, comp in pairs:
        slot = min(int((comp.time - origin) / width), bins - 1)
        done[slot] += 1
        bad[slot] += int(comp.type is not OpType.OK)
    xs = [i * width for i in range(bins)]
    axis.bar(xs, [n / width for n in done], width=width, align="edge", color="#868e96", alpha=0.6,
             label="throughput (ops/s)")
    axis.set_ylabel("ops/s")
    errors = axis.twinx()
    errors.plot([x + width / 2 for x in xs], [100 * b / n if n else math.nan for b, n in zip(bad, done, strict=True)],
                color=_COLOURS[OpType.FAIL], linewidth=1.2, marker=".", label="not ok (%)")
    errors.set_ylabel("not ok (%)")
    errors.set_ylim(0, 105)
