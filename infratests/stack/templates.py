"""Config rendering: built-in Jinja2 templates, or the user's own from the profile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError

__all__ = ["render"]

_BUILTIN = Path(__file__).parent / "templates"


def render(builtin: str, user_template: Path | None, context: Mapping[str, Any], key: str) -> str:
    """Render ``user_template`` if set, else the built-in one; a failure names ``key``."""
    import jinja2

    path = user_template or _BUILTIN / builtin
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     autoescape=False)
    try:
        return environment.from_string(path.read_text()).render(**context)
    except jinja2.TemplateError as error:
        known = ", ".join(sorted(context))
        raise ConfigError(f"{key}: template {path} does not render: {error}; "
                          f"variables it may use: {known}", key) from None
