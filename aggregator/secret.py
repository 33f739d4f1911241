"""The site secret: one value every signed thing is keyed from.

Session cookies (``web.session``) and subscribers' links (``subscribers.tokens``) derive their
own keys from it, each for its own purpose, so the secret itself is never a key.  It is
``AGGREGATOR_SECRET``, else a random secret kept in ``.aggregator-secret`` beside ``feeds.yaml``
(mode 600), written the first time something needs it.  Servers and commands sharing the secret
accept each other's cookies and links; changing it ends every session and voids every link
already mailed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

__all__ = ["SECRET_ENV", "SECRET_FILE", "load_secret"]

SECRET_ENV = "AGGREGATOR_SECRET"  # noqa: S105 - the variable's name, not a secret
SECRET_FILE = ".aggregator-secret"  # noqa: S105 - a file name


def load_secret(base_dir: Path, env: Mapping[str, str]) -> bytes:
    """``AGGREGATOR_SECRET``, else a random secret kept in ``.aggregator-secret`` (mode 600)."""
    value = env.get(SECRET_ENV, "").strip()
    if value:
        return value.encode("utf-8")
    path = base_dir / SECRET_FILE
    try:
        stored = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        stored = ""
    if len(stored) >= 32:
        return stored.encode("ascii")
    fresh = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(fresh + "\n")
    return fresh.encode("ascii")
