"""Signed links from the site secret: the one module that imports itsdangerous.

Password-reset links (``accounts.tokens``) and every link mailed to a subscriber
(``subscribers.tokens``) are signed, purpose-salted and mostly expiring.  One owner keeps the
rules of that format in one place: a library upgrade, a change of digest or a security fix is
read and tested here once, and callers see our own ``SigningError`` with a ``SigningFault``
instead of a third party's exception tree.  Each caller names its salt and its ``Keying``; both
are part of every token already issued, so they must never change for an existing purpose.

The clock is injected: itsdangerous reads ``time.time()`` unless its signer is told otherwise,
and tests must be able to make a token expire without waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from itsdangerous import BadData, SignatureExpired, Signer, TimestampSigner
from itsdangerous.url_safe import URLSafeTimedSerializer

__all__ = ["Keying", "SignedTags", "SignedTokens", "SigningError", "SigningFault"]


class Keying(StrEnum):
    """How the key is derived from the secret and the salt, and which digest signs."""

    CONCAT_SHA1 = "concat-sha1"  # itsdangerous' defaults: password-reset links and VERP tags
    HMAC_SHA256 = "hmac-sha256"  # HMAC key derivation with SHA-256: subscribers' links


class SigningFault(StrEnum):
    TAMPERED = "tampered"  # not signed by us, changed, or signed for another purpose
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class SigningError(Exception):
    fault: SigningFault


def _signer_kwargs(keying: Keying) -> dict[str, Any]:
    if keying is Keying.HMAC_SHA256:
        return {"key_derivation": "hmac", "digest_method": hashlib.sha256}
    return {}


@dataclass(frozen=True, slots=True)
class SignedTokens:
    """URL-safe, timestamped tokens carrying a small JSON value, for one purpose (``salt``)."""

    secret: bytes
    salt: str
    now: Callable[[], datetime]
    keying: Keying = Keying.CONCAT_SHA1

    def _serializer(self) -> URLSafeTimedSerializer:
        now = self.now

        class _ClockedSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(now().timestamp())

        return URLSafeTimedSerializer(
            self.secret,
            salt=self.salt,
            signer=_ClockedSigner,
            signer_kwargs=_signer_kwargs(self.keying),
        )

    def dumps(self, value: Any) -> str:
        return self._serializer().dumps(value)

    def loads(self, token: str, max_age_s: int) -> Any:
        """The value signed at most ``max_age_s`` ago; ``SigningError`` otherwise.

        The value is whatever JSON held: callers check its shape before trusting it.
        """
        try:
            return self._serializer().loads(token, max_age=max_age_s)
        except SignatureExpired:
            raise SigningError(SigningFault.EXPIRED) from None
        except BadData:
            raise SigningError(SigningFault.TAMPERED) from None


@dataclass(frozen=True, slots=True)
class SignedTags:
    """Short untimed signatures of a string, ``<value><sep><signature>``, for one purpose.

    Made for places tighter than a URL, such as an e-mail local part: no timestamp, no JSON.
    """

    secret: bytes
    salt: str
    sep: str = "."

    def _signer(self) -> Signer:
        return Signer(self.secret, salt=self.salt, sep=self.sep)

    def sign(self, value: str) -> str:
        return self._signer().sign(value).decode("utf-8")

    def unsign(self, tag: str) -> str | None:
        """The value a tag we made stands for; None for anything else."""
        try:
            return self._signer().unsign(tag).decode("utf-8")
        except BadData:
            return None
