"""What a run is about to test, said once at its start: the app, the profile, the backend.

A green run about the wrong system is the worst outcome a test suite can
have, so every run names the app command and the profile file it took, and a
folder that looks like an app but has no profile gets a hint instead of a
silent run against the reference app.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from infratests.config import Profile
from infratests.profile_file import PROFILE_FILE

__all__ = ["APP_MARKERS", "missing_profile_hint", "target_line"]

#: Files that mark a folder as an app's own (its team meant to test it, not the reference app).
APP_MARKERS = ("package.json", "requirements.txt", "go.mod", "Cargo.toml", "Gemfile", "pom.xml",
               "composer.json", "Dockerfile", "ecosystem.config.js", "Procfile")


def target_line(profile: Profile, backend: str) -> str:
    """``infratests: testing app 'node server.js' (profile ./infratests.toml), local backend``."""
    if backend == "external":
        return f"infratests: testing the environment at {profile.external.url} ({_source(profile)}), external backend"
    if profile.app.command:
        app = f"app {shlex.join(profile.app.command)!r}"
    else:
        app = "the reference app (python -m infratests.refapp)"
    return f"infratests: testing {app} ({_source(profile)}), {backend} backend"


def missing_profile_hint(folder: Path) -> str | None:
    """One line when ``folder`` has an app of its own but no profile, else None."""
    found = [name for name in APP_MARKERS if (folder / name).exists()]
    if not found:
        return None
    return (f"infratests: {found[0]} here but no {PROFILE_FILE}: the reference app is tested, not yours; "
            f"run `infratests init` and set app.command")


def _source(profile: Profile) -> str:
    """The profile file, relative to the current folder when it is below it."""
    if profile.path is None:
        shown = "no profile file: built-in defaults"
    else:
        relative = os.path.relpath(profile.path)
        shown = "profile " + (str(profile.path) if relative.startswith("..") else f"./{relative}")
    return shown + (f" + --set {', '.join(profile.overridden)}" if profile.overridden else "")
