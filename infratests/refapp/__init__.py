"""The reference service under test: every claim implemented correctly, with knobs to break each one.

Run it with ``python -m infratests.refapp`` (the app contract: docs/app-contract.md).
Importing this package is cheap; the server modules load on demand.
"""

from __future__ import annotations

from infratests.refapp.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
