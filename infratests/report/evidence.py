"""A test's evidence folder in the claims report: its history (JSONL), its fault windows and seed
(JSON), its timeline (PNG), and, when it failed, the failure and the services' last log lines."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from infratests.history import History
from infratests.report.timeline import write_timeline

__all__ = ["evidence_dir", "write_failure", "write_history"]


def evidence_dir(report: Path, nodeid: str) -> Path:
    """``report/tests/<nodeid as a file name>``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("/")[-1]).strip("_")[:150]
    return report / "tests" / name


def write_history(folder: Path, history: History, title: str, seed: int | None) -> dict[str, str]:
    """History, faults and timeline of one test; the files written, by kind (paths relative to the
    report folder's parent of ``tests/``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    if history.ops:
        history.dump(folder / "history.jsonl")
        written["history"] = "history.jsonl"
    faults = [{"fault": w.fault, "target": w.target, "start": w.start,
               "end": None if w.end == float("inf") else w.end, "params": dict(w.params)}
              for w in history.fault_windows()]
    plans = history.fault_plans()
    if faults or plans or seed is not None:
        (folder / "faults.json").write_text(json.dumps({"seed": seed, "plans": plans, "faults": faults}, indent=1,
                                                       default=str))
        written["faults"] = "faults.json"
    if write_timeline(history, folder / "timeline.png", title) is not None:
        written["timeline"] = "timeline.png"
    return written


def write_failure(folder: Path, longrepr: str, logs: Mapping[str, str]) -> dict[str, str]:
    """The failure as pytest showed it, and each service's last log lines."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "failure.txt").write_text(longrepr)
    written = {"failure": "failure.txt"}
    for service, text in logs.items():
        (folder / "logs").mkdir(exist_ok=True)
        (folder / "logs" / f"{service}.log").write_text(text)
        written[f"log {service}"] = f"logs/{service}.log"
    return written
