"""No secret in any message or report the suite writes.

Passwords in URLs and DSNs (``scheme://user:password@host``, libpq's
``password=...``) are masked wherever they appear, and so is every secret
the suite knows of: the profile's database password, the superuser's, the
health secret of each stack. Output boundaries call :func:`mask`: pytest's
reports (failure text, sections, JUnit properties), the command line's
errors, the claims report.
"""

from __future__ import annotations

import re
import threading

__all__ = ["MASK", "mask", "register"]

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]+:)[^@\s'\"]+(?=@)", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
_known: set[str] = set()
_lock = threading.Lock()


def register(*secrets: str) -> None:
    """Remember secrets to mask from now on (short ones would mask ordinary words, so they are not)."""
    with _lock:
        _known.update(secret for secret in secrets if secret and len(secret) >= 6)


def mask(text: str) -> str:
    """``text`` with every password of a URL or DSN and every registered secret replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda found: found.group("head") + MASK, text)
    text = _KEYWORD_PASSWORD.sub(lambda found: found.group("head") + MASK, text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    return text
