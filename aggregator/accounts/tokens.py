"""Password-reset links: signed with the site secret, expiring, and void once used.

``aggregator.signing`` (the one owner of itsdangerous) signs the account id and a fingerprint
of the account's current password hash with a timestamp.  The link works for ``RESET_TTL_S``
seconds and only while the password is the one it was made for: setting a new password through
it changes the hash, so the same link cannot be used twice and an older link dies too.  No
token table is needed.  The clock is injected: the ``now`` handed in is the token's timestamp.
The salt and the default keying are those of the links already mailed, so they keep working.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from aggregator.signing import SignedTokens, SigningError

__all__ = [
    "RESET_TTL_S",
    "ResetClaim",
    "fingerprint",
    "make_reset_token",
    "read_reset_token",
    "still_valid",
]

RESET_TTL_S = 3600
_SALT = "aggregator console password reset, v1"

ResetClaim = tuple[int, str]  # (account id, fingerprint of the hash the link was made for)


def fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash: enough to notice it changed, useless to a thief."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:24]


def _tokens(secret: bytes, now: datetime) -> SignedTokens:
    return SignedTokens(secret, _SALT, lambda: now)


def make_reset_token(secret: bytes, account_id: int, password_hash: str, now: datetime) -> str:
    return _tokens(secret, now).dumps([account_id, fingerprint(password_hash)])


def read_reset_token(secret: bytes, token: str, now: datetime) -> ResetClaim | None:
    """The (account id, hash fingerprint) a valid, unexpired token stands for; else None.

    The caller still compares the fingerprint with the account's current hash.
    """
    try:
        value = _tokens(secret, now).loads(token, RESET_TTL_S)
    except SigningError:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        return None
    return value[0], value[1]


def still_valid(claim: ResetClaim, current_hash: str) -> bool:
    return claim[1] == fingerprint(current_hash)
