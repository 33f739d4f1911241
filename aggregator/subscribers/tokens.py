"""Signed, expiring tokens in every link mailed to a subscriber, made by ``aggregator.signing``.

A token names one subscription by its id and the subscriber's current ``nonce``, never by the
address, so no URL the product writes carries an address.  Three purposes, each with its own
salt so a token of one kind is refused as another: ``confirm`` (the double opt-in mail, short
lived), ``manage`` (the preference and one-click unsubscribe links of every digest, long lived)
and ``verp`` (the envelope sender's tag that brings bounces back to one subscription and one
edition).  Keys come from the site secret through HMAC key derivation with the purpose as salt
(``Keying.HMAC_SHA256``; the VERP tag keeps the shorter default keying).  Salts and keyings are
part of every link already mailed: they must not change.  A forwarded digest lets its reader
act on that one subscription only: the token names nothing else.

The clock is injected, so tests make a token expire without waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aggregator.signing import Keying, SignedTags, SignedTokens, SigningError, SigningFault

__all__ = ["Purpose", "TokenError", "TokenFault", "Tokens", "edition_tag"]


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"


class TokenFault(StrEnum):
    TAMPERED = "tampered"  # not signed by us, or changed, or of another purpose
    EXPIRED = "expired"
    STALE = "stale"  # signed by us, but for a subscription that no longer exists as it was


@dataclass(frozen=True, slots=True)
class TokenError(Exception):
    fault: TokenFault


def edition_tag(edition_id: str) -> str:
    """Eight hex characters naming an edition inside a short VERP address."""
    return hashlib.sha256(edition_id.encode("utf-8")).hexdigest()[:8]


class Tokens:
    """Makes and reads tokens for one site secret; ``now`` is the injected clock."""

    def __init__(self, secret: bytes, now: Callable[[], datetime]) -> None:
        self._secret = secret
        self._now = now

    def _serializer(self, purpose: Purpose) -> SignedTokens:
        salt = f"aggregator subscriber {purpose.value} v1"
        return SignedTokens(self._secret, salt, self._now, Keying.HMAC_SHA256)

    def make(self, purpose: Purpose, subscriber_id: int, nonce: str) -> str:
        return self._serializer(purpose).dumps([subscriber_id, nonce])

    def read(self, purpose: Purpose, token: str, max_age_s: int) -> tuple[int, str]:
        """(subscriber id, nonce); ``TokenError`` for a tampered or expired token."""
        try:
            value: Any = self._serializer(purpose).loads(token, max_age_s)
        except SigningError as err:
            expired = err.fault is SigningFault.EXPIRED
            raise TokenError(TokenFault.EXPIRED if expired else TokenFault.TAMPERED) from None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], int)
            or not isinstance(value[1], str)
        ):
            raise TokenError(TokenFault.TAMPERED)
        return value[0], value[1]

    def _verp_signer(self) -> SignedTags:
        # SHA-1 HMAC keeps the tag short enough for a 64-character local part; as a MAC it is
        # still sound.  ``sep`` is a dot: '+' and '=' are not welcome in local parts.
        return SignedTags(self._secret, "aggregator subscriber verp v1", sep=".")

    def verp_address(self, bounce_address: str, subscriber_id: int, edition_id: str) -> str:
        """``bounces+<id>.<edition tag>.<signature>@domain``."""
        local, _, domain = bounce_address.rpartition("@")
        tag = self._verp_signer().sign(f"{subscriber_id}.{edition_tag(edition_id)}")
        return f"{local}+{tag}@{domain}"

    def read_verp(self, address: str) -> tuple[int, str] | None:
        """(subscriber id, edition tag) from a VERP address we made; None otherwise."""
        local = address.rpartition("@")[0]
        _, plus, tag = local.partition("+")
        if not plus:
            return None
        value = self._verp_signer().unsign(tag)
        if value is None:
            return None
        ident, _, edition = value.partition(".")
        return (int(ident), edition) if ident.isdigit() else None
