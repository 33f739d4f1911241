"""Who gets an edition: the static recipients of ``feeds.yaml`` and the subscriber list.

Static recipients (``digest.editions[].recipients``) keep working for small setups that manage
their list by hand: they get the edition whatever the list says, with the old unsubscribe link
(``digest.unsubscribe_url`` or a mailto), unless their address is on the suppression list.
List subscribers get it when ``subscribers.rules.is_recipient`` says so, each with their own
signed preference and one-click unsubscribe links and, with ``subscribers.bounce_address``
set, their own VERP envelope sender so that a bounce names the subscription and the edition.
An address on both lists is mailed once, as a subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.config import EditionSettings, Settings
from aggregator.store.protocol import Store
from aggregator.store.subscribers import Status, address_key
from aggregator.subscribers.rules import address_hash, is_recipient
from aggregator.subscribers.service import manage_urls
from aggregator.subscribers.tokens import Tokens

__all__ = ["Recipient", "audience"]


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    preferences_url: str | None = None  # None: a static recipient of feeds.yaml
    unsubscribe_url: str | None = None
    envelope_from: str | None = None  # VERP; None: the From address


def audience(
    store: Store,
    settings: Settings,
    edition: EditionSettings,
    edition_id: str,
    window_end: datetime,
    tokens: Tokens,
) -> list[Recipient]:
    """Static recipients first (in their order), then subscribers in signup order."""
    chosen: dict[str, Recipient] = {}
    bounce = settings.subscribers.bounce_address
    for sub in store.list_subscribers(statuses=(Status.CONFIRMED,)):
        if not is_recipient(sub, edition.name, edition.language, window_end):
            continue
        prefs, unsub = manage_urls(settings, tokens, sub)
        envelope = tokens.verp_address(bounce, sub.id, edition_id) if bounce else None
        chosen[sub.key] = Recipient(sub.address, prefs, unsub, envelope)
    static = [a for a in edition.recipients if address_key(a) not in chosen]
    gone = store.suppressed([address_hash(a) for a in static]) if static else {}
    listed = [Recipient(a) for a in static if address_hash(a) not in gone]
    return [*listed, *chosen.values()]
