"""The status rules of a subscription, as a table: each move the list can make, or refuse."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aggregator.store.subscribers import Consent, Event, Status, Subscriber
from aggregator.subscribers import rules

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WAIT = timedelta(minutes=15)


def person(status: Status, **changes: object) -> Subscriber:
    sub = Subscriber(
        7, "ana@city.example", "en", ("weekly",), status, "n1", T0, T0, Consent("web", "1", T0),
        confirmed=T0 if status is Status.CONFIRMED else None, confirm_sent=T0,
    )  # fmt: skip
    return replace(sub, **changes)  # type: ignore[arg-type]


def signup(existing: Subscriber | None, at: datetime) -> rules.Change | None:
    return rules.signup(
        existing, "ana@city.example", "fr", ["hebdo"], at,
        consent_version="2", nonce="n2", resend_after=WAIT,
    )  # fmt: skip


def test_a_signup_never_changes_a_confirmed_subscription() -> None:
    assert signup(person(Status.CONFIRMED), T0 + timedelta(days=1)) is None


def test_a_pending_signup_mails_again_only_after_the_wait() -> None:
    assert signup(person(Status.PENDING), T0 + timedelta(minutes=5)) is None
    again = signup(person(Status.PENDING), T0 + timedelta(minutes=20))
    assert again is not None and again.send_confirmation
    assert again.subscriber.editions == ("hebdo",) and again.subscriber.nonce == "n1"


def test_a_new_opt_in_after_leaving_is_pending_with_a_new_nonce() -> None:
    for gone in (Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED):
        change = signup(person(gone), T0 + timedelta(days=3))
        assert change is not None and change.send_confirmation
        sub = change.subscriber
        assert (sub.status, sub.nonce, sub.confirmed) == (Status.PENDING, "n2", None)
        assert change.events[0].detail == f"after {gone.value}"


def test_only_a_pending_subscription_confirms_and_a_second_press_records_nothing() -> None:
    done = rules.confirm(person(Status.PENDING), T0)
    assert isinstance(done, rules.Change) and done.unsuppress
    assert done.subscriber.status is Status.CONFIRMED
    again = rules.confirm(person(Status.CONFIRMED), T0)
    assert isinstance(again, rules.Change) and again.events == ()
    assert rules.confirm(person(Status.UNSUBSCRIBED), T0) is rules.Refusal.NOT_PENDING


def test_preferences_of_someone_who_left_are_refused_and_no_change_records_nothing() -> None:
    assert (
        rules.change_preferences(person(Status.BOUNCED), "fr", ["hebdo"], T0)
        is rules.Refusal.NOT_ACTIVE
    )
    same = rules.change_preferences(person(Status.CONFIRMED), "en", ["weekly"], T0)
    assert isinstance(same, rules.Change) and same.events == ()


def test_soft_bounces_count_only_within_the_window() -> None:
    old = [Event("soft_bounce", T0 - timedelta(days=40))] * 5
    recent = [Event("soft_bounce", T0 - timedelta(days=2))]
    kwargs = {"edition_id": "e", "detail": "4.2.2", "soft_limit": 3, "soft_days": 30}
    still = rules.after_bounce(
        person(Status.CONFIRMED), old + recent, T0, permanent=False, **kwargs
    )  # type: ignore[arg-type]
    assert still.subscriber.status is Status.CONFIRMED and still.suppress is None
    dead = rules.after_bounce(person(Status.CONFIRMED), recent * 2, T0, permanent=False, **kwargs)  # type: ignore[arg-type]
    assert dead.subscriber.status is Status.BOUNCED and dead.suppress == "bounced"


def test_who_gets_an_edition() -> None:
    sub = person(Status.CONFIRMED, language="fr-CA", editions=("hebdo",))
    assert rules.is_recipient(sub, "hebdo", "fr", T0)
    assert rules.is_recipient(sub, "hebdo", None, T0)  # an edition for every language
    assert not rules.is_recipient(sub, "hebdo", "es", T0)
    assert not rules.is_recipient(sub, "weekly", None, T0)  # not chosen
    assert not rules.is_recipient(sub, "hebdo", "fr", T0 - timedelta(hours=1))  # confirmed later
    assert not rules.is_recipient(person(Status.PENDING), "weekly", None, T0)
