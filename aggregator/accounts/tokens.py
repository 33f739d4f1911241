"""Password-reset links: signed with the site secret, expiring, and void once used.

itsdangerous (imported here only) signs the account id and a fingerprint of the account's
current password hash with a timestamp.  The link works for ``RESET_TTL_S`` seconds and only
while the password is the one it was made for: setting a new password through it changes the
hash, so the same link cannot be used twice and an older link dies too.  No token table is
needed.  The clock is injected: itsdangerous reads ``time.time()`` through the signer's
``get_timestamp``, which is overridden with the ``now`` handed in.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from itsdangerous import BadData, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

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


def _serializer(secret: bytes, now: datetime) -> URLSafeTimedSerializer:
    class _AtNow(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now.timestamp())

    return URLSafeTimedSerializer(secret, salt=_SALT, signer=_AtNow)


def make_reset_token(secret: bytes, account_id: int, password_hash: str, now: datetime) -> str:
    return _serializer(secret, now).dumps([account_id, fingerprint(password_hash)])


def read_reset_token(secret: bytes, token: str, now: datetime) -> ResetClaim | None:
    """The (account id, hash fingerprint) a valid, unexpired token stands for; else None.

    The caller still compares the fingerprint with the account's current hash.
    """
    try:
        value = _serializer(secret, now).loads(token, max_age=RESET_TTL_S)
    except BadData:
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
