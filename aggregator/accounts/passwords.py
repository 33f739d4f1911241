"""Passwords: argon2id hashes (argon2-cffi) and the rules a new password must meet.

argon2-cffi is imported here and nowhere else.  Its defaults (RFC 9106's second recommended
profile: 64 MiB, three passes) cost tens of milliseconds a login; tests hand a cheaper
``Hasher`` in, production never does.  A hash made with older parameters is upgraded at the
next successful login (``needs_rehash``).

For an unknown e-mail address the login still verifies a password against a fixed dummy hash,
so the answer takes as long as for a real account and does not tell who has one.
"""

from __future__ import annotations

import enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "Hasher", "PasswordProblem", "cheap_hasher", "problem"]

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; a cap keeps a megabyte "password" from costing more


class PasswordProblem(enum.StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SAME_AS_EMAIL = "same_as_email"


def problem(password: str, email: str) -> PasswordProblem | None:
    """Why ``password`` may not be set for ``email``; None when it may."""
    if len(password) < MIN_LENGTH:
        return PasswordProblem.TOO_SHORT
    if len(password) > MAX_LENGTH:
        return PasswordProblem.TOO_LONG
    if password.strip().casefold() == email.strip().casefold():
        return PasswordProblem.SAME_AS_EMAIL
    return None


class Hasher:
    """Hash and verify with one set of argon2id parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
        self._dummy: str | None = None  # made at the first unknown address, not at start-up

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; None (no such account) costs the same."""
        if stored is None and self._dummy is None:
            self._dummy = self._hasher.hash("not a password anyone has")
        try:
            return bool(self._hasher.verify(stored or self._dummy or "", password)) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return bool(self._hasher.check_needs_rehash(stored))
        except InvalidHashError:
            return True


def cheap_hasher() -> Hasher:
    """Minimal argon2id parameters, for tests only: the same code path, a millisecond a hash."""
    return Hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
