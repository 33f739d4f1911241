"""The site secret: one value every signed thing is keyed from.

Session cookies (``web.session``) and subscribers' links (``subscribers.tokens``) derive their
own keys from it, each for its own purpose, so the secret itself is never a key.  It is
``AGGREGATOR_SECRET``, else a random secret kept in ``.aggregator-secret`` beside ``feeds.yaml``
(mode 600), written the first time something needs it.  Servers and commands sharing the secret
accept each other's cookies and links; changing it ends every session and voids every link
already mailed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
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
    return _store_secret(path, secrets.token_hex(32), replace=bool(stored)).encode("ascii")


def _store_secret(path: Path, fresh: str, *, replace: bool) -> str:
    """Write the secret whole, and let the first of several servers starting at once win.

    The secret goes to a private temporary file first; ``link`` then puts it in place only if
    no other server did meanwhile (a too-short secret is replaced outright), and whoever lost
    reads the winner's: two servers never run with different secrets.
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-secret-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(fresh + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            Path(tmp).replace(path)
            return fresh
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
        return fresh
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
