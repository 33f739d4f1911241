"""What the console's pages share: the password hasher, the mail sender, its own limiters.

One ``ConsoleState`` per application under ``CONSOLE_KEY``, beside the member pages'
``MemberState`` (whose settings, clock, store and sessions the console uses too).  The signed
in account is put on each request under ``ACCOUNT`` by the gate.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from aggregator.accounts import lockout
from aggregator.accounts.passwords import Hasher
from aggregator.newsletter.mail import SenderFactory
from aggregator.store.staff import Account
from aggregator.web.ratelimit import TokenBucket

__all__ = ["ACCOUNT", "CONSOLE_KEY", "CSRF", "ConsoleState", "Strangers"]

STRANGERS_KEPT = 10_000  # addresses without an account whose wrong passwords are remembered


@dataclass
class Strangers:
    """Wrong passwords for addresses that have no account, counted by the accounts' own rules.

    Without this, a few wrong passwords would tell an attacker whether an address has an
    account: a real one is locked ("try again in 15 seconds"), an unknown one never is.  Kept
    in memory (a restart forgets them, as it forgets the per-client limits) and bounded: the
    least recently tried address is forgotten first.
    """

    kept: int = STRANGERS_KEPT
    _failures: OrderedDict[str, lockout.Failure] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked_until(self, email: str) -> datetime | None:
        with self._lock:
            found = self._failures.get(email)
        return found.locked_until if found is not None else None

    def record(self, email: str, now: datetime) -> lockout.Failure:
        with self._lock:
            before = self._failures.pop(email, None)
            failure = lockout.record_failure(before.failures if before else 0, now)
            self._failures[email] = failure
            while len(self._failures) > self.kept:
                self._failures.popitem(last=False)
        return failure


@dataclass
class ConsoleState:
    hasher: Hasher
    sender: SenderFactory  # outcome mails, reset links, test copies and sends
    login_limiter: TokenBucket  # wrong passwords per real client, across all accounts
    reset_limiter: TokenBucket  # reset-link requests per real client
    secret: Callable[[], bytes]  # the site secret (signs reset links)
    session_hours: float = 12.0  # a sign-in lasts this long without activity
    strangers: Strangers = field(default_factory=Strangers)  # unknown addresses' failures
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)


CONSOLE_KEY = web.AppKey("console", ConsoleState)
ACCOUNT = web.RequestKey("account", Account)
CSRF = web.RequestKey("console_csrf", str)  # the session's token, for the layout's forms
