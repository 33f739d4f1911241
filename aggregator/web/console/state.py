"""What the console's pages share: the password hasher, the mail sender, its own limiters.

One ``ConsoleState`` per application under ``CONSOLE_KEY``, beside the member pages'
``MemberState`` (whose settings, clock, store and sessions the console uses too).  The signed
in account is put on each request under ``ACCOUNT`` by the gate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from aggregator.accounts.passwords import Hasher
from aggregator.newsletter.mail import SenderFactory
from aggregator.store.staff import Account
from aggregator.web.ratelimit import TokenBucket

__all__ = ["ACCOUNT", "CONSOLE_KEY", "CSRF", "ConsoleState"]


@dataclass
class ConsoleState:
    hasher: Hasher
    sender: SenderFactory  # outcome mails, reset links, test copies and sends
    login_limiter: TokenBucket  # wrong passwords per real client, across all accounts
    reset_limiter: TokenBucket  # reset-link requests per real client
    secret: Callable[[], bytes]  # the site secret (signs reset links)
    session_hours: float = 12.0  # a sign-in lasts this long without activity
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)


CONSOLE_KEY = web.AppKey("console", ConsoleState)
ACCOUNT = web.RequestKey("account", Account)
CSRF = web.RequestKey("console_csrf", str)  # the session's token, for the layout's forms
