"""The subscriber actions the web pages and the sender perform: read, decide, write.

Each function reads what ``rules`` needs from the store, asks it, and writes the ``Change``
(the subscriber, its events and the suppression list in step).  Links are built here from the
site's ``base_url`` and a token; none carries an address.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlencode

from aggregator.config import Settings
from aggregator.store.protocol import Store
from aggregator.store.subscribers import Status, Subscriber
from aggregator.subscribers import rules
from aggregator.subscribers.tokens import Purpose, TokenError, TokenFault, Tokens

__all__ = [
    "apply",
    "confirm_url",
    "leave",
    "manage_urls",
    "new_nonce",
    "resolve",
    "signup",
]

CONFIRM_PATH = "subscribe/confirm"
PREFERENCES_PATH = "preferences"
UNSUBSCRIBE_PATH = "unsubscribe"


def new_nonce() -> str:
    return secrets.token_urlsafe(8)


def apply(store: Store, change: rules.Change, now: datetime) -> Subscriber:
    """Write a decision: the subscriber with its events, then the suppression list."""
    sub = change.subscriber
    if change.events or not sub.id:
        sub = store.save_subscriber(sub, change.events)
    if change.suppress:
        store.suppress(rules.address_hash(sub.address), change.suppress, now)
    if change.unsuppress:
        store.unsuppress(rules.address_hash(sub.address))
    return sub


def _url(settings: Settings, path: str, token: str) -> str:
    return f"{settings.site.base_url}{path}?{urlencode({'t': token})}"


def confirm_url(settings: Settings, tokens: Tokens, sub: Subscriber) -> str:
    return _url(settings, CONFIRM_PATH, tokens.make(Purpose.CONFIRM, sub.id, sub.nonce))


def manage_urls(settings: Settings, tokens: Tokens, sub: Subscriber) -> tuple[str, str]:
    """(preferences page, one-click unsubscribe) for one subscriber: one token, two pages."""
    token = tokens.make(Purpose.MANAGE, sub.id, sub.nonce)
    return _url(settings, PREFERENCES_PATH, token), _url(settings, UNSUBSCRIBE_PATH, token)


def max_age(settings: Settings, purpose: Purpose) -> int:
    s = settings.subscribers
    if purpose is Purpose.CONFIRM:
        return s.confirm_hours * 3600
    return s.link_days * 86400


def resolve(
    store: Store, settings: Settings, tokens: Tokens, purpose: Purpose, token: str
) -> Subscriber:
    """The subscriber a token names, or ``TokenError``: tampered, expired, or stale (the
    subscription was forgotten, or signed up anew since the link was mailed)."""
    ident, nonce = tokens.read(purpose, token, max_age(settings, purpose))
    sub = store.get_subscriber(ident)
    if sub is None or not secrets.compare_digest(sub.nonce, nonce):
        raise TokenError(TokenFault.STALE)
    return sub


def signup(
    store: Store,
    settings: Settings,
    address: str,
    language: str,
    editions: Sequence[str],
    now: datetime,
) -> Subscriber | None:
    """Record a signup; the subscriber to mail a confirmation to, or None (nothing to mail)."""
    existing = store.find_subscriber(address)
    change = rules.signup(
        existing,
        address.strip(),
        language,
        editions,
        now,
        consent_version=settings.subscribers.consent_version,
        nonce=new_nonce(),
        resend_after=timedelta(minutes=settings.subscribers.resend_minutes),
    )
    if change is None:
        return None
    sub = apply(store, change, now)
    return sub if change.send_confirmation else None


def leave(store: Store, sub: Subscriber, now: datetime, how: str) -> Subscriber:
    return apply(store, rules.unsubscribe(sub, now, how), now)


def active(sub: Subscriber) -> bool:
    return sub.status in (Status.PENDING, Status.CONFIRMED)
