"""Editions drawing their recipients from the list, sent over real SMTP (aiosmtpd on
127.0.0.1): language and editions chosen, VERP senders, signed links, one-click headers, the
spliced copies against the reference build, and the bounce mailbox updating statuses."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from aggregator import config
from aggregator.newsletter.audience import Recipient, audience
from aggregator.newsletter.bulk import MessageBatch
from aggregator.newsletter.digest import preview, send
from aggregator.newsletter.mail import SmtpSender
from aggregator.newsletter.prepare import message_for, prepare
from aggregator.store import SqlStore, open_store
from aggregator.store.subscribers import Status, Subscriber
from aggregator.subscribers import staff
from aggregator.subscribers.bounces import Kind, classify, process_inbox
from aggregator.subscribers.mailbox import open_inbox
from aggregator.subscribers.service import leave
from aggregator.subscribers.tokens import Purpose, Tokens
from tests.stores import at_head
from tests.test_digest import SOURCES, add, make_post
from tests.test_mail import FakeClock, SmtpServer
from tests.test_subscribers_web import FEEDS_YAML, SECRET, assert_no_address

DATA = Path(__file__).parent / "data" / "bounces"
STATIC = "editor@network.example.org"


@pytest.fixture
def settings(tmp_path: Path, smtp: SmtpServer) -> config.Settings:
    text = FEEDS_YAML.format(port=smtp.port).replace(
        "      language: fr\n", f"      language: fr\n      recipients: [{STATIC}]\n", 1
    )
    text += "  mailbox:\n    kind: maildir\n    path: bounces\n"
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


@pytest.fixture
def store(settings: config.Settings) -> Iterator[SqlStore]:
    opened = open_store(at_head(settings.storage_url))
    opened.sync_sources(SOURCES)
    yield opened
    opened.close()


def tokens(now: datetime) -> Tokens:
    return Tokens(SECRET.encode(), lambda: now)


def paced(smtp_settings: config.SmtpSettings) -> SmtpSender:
    clock = FakeClock()
    return SmtpSender(smtp_settings, env={}, sleep=clock.sleep, clock=clock)


def subscribe(
    store: SqlStore, settings: config.Settings, address: str, language: str, when: datetime
) -> Subscriber:
    result = staff.add(store, settings, address, when, language=language, note="test")
    assert isinstance(result, Subscriber)
    return result


def french_posts(store: SqlStore, now: datetime) -> None:
    add(
        store,
        make_post(1, first_seen=now - timedelta(hours=5), language="fr", title="Les villes"),
        make_post(2, first_seen=now - timedelta(hours=4), language="fr", title="Le climat"),
        make_post(3, first_seen=now - timedelta(hours=3), language="en", title="Climate"),
    )


def send_hebdo(store: SqlStore, settings: config.Settings, now: datetime) -> object:
    return send(store, settings, "hebdo", now, smtp_factory=paced, tokens=tokens(now))


def parsed(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


# --------------------------------------------------------------------------------------------
# Who gets an edition


def test_an_edition_reaches_the_subscribers_of_its_language_and_choice_once_each(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, now: datetime
) -> None:
    french_posts(store, now)
    week_ago = now - timedelta(days=7)
    camille = subscribe(store, settings, "camille@ville.example", "fr", week_ago)
    subscribe(store, settings, "ana@city.example", "en", week_ago)  # weekly, in English
    subscribe(store, settings, "EDITOR@network.example.org", "fr", week_ago)  # also static

    report = send_hebdo(store, settings, now)
    assert {a.lower() for a in report.sent} == {"camille@ville.example", STATIC}  # type: ignore[attr-defined]
    got = {r.rcpt_tos[0].lower(): r for r in smtp.handler.received}
    assert set(got) == {"camille@ville.example", STATIC.lower()}  # once each, no English reader
    mail = got["camille@ville.example"]
    assert mail.mail_from.startswith("bounces+") and mail.mail_from.endswith("@network.example.org")
    named = tokens(now).read_verp(mail.mail_from)
    assert named is not None and named[0] == camille.id
    msg = mail.parsed()
    unsubscribe = msg["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.startswith("https://news.example.org/unsubscribe?t=")
    token = parse_qs(urlsplit(unsubscribe).query)["t"][0]
    assert tokens(now).read(Purpose.MANAGE, token, 3600) == (camille.id, camille.nonce)
    html = str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert "Vos préférences" in html and "Se désabonner" in html and "Les villes" in html
    for url in (unsubscribe, mail.mail_from, html):
        assert_no_address(url, "camille@ville.example")

    again = send_hebdo(store, settings, now)
    assert again.sent == () and len(smtp.handler.received) == 2  # type: ignore[attr-defined]


def test_someone_confirming_after_the_window_closed_gets_the_next_edition_not_this_one(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, now: datetime
) -> None:
    french_posts(store, now)
    preview(store, settings, "hebdo", now)  # the edition under review: its window ends now
    late = subscribe(store, settings, "late@ville.example", "fr", now + timedelta(hours=1))
    send_hebdo(store, settings, now + timedelta(hours=2))
    assert [r.rcpt_tos for r in smtp.handler.received] == [[STATIC]]
    add(store, make_post(9, first_seen=now + timedelta(days=3), language="fr", title="Suite"))
    send_hebdo(store, settings, now + timedelta(days=7))
    assert [r.rcpt_tos[0] for r in smtp.handler.received[1:]] == [STATIC, late.address]


def test_after_leaving_the_next_edition_skips_the_address(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, now: datetime
) -> None:
    french_posts(store, now)
    sub = subscribe(store, settings, "camille@ville.example", "fr", now - timedelta(days=1))
    send_hebdo(store, settings, now)
    leave(store, sub, now + timedelta(hours=1), "one-click")
    add(store, make_post(9, first_seen=now + timedelta(days=3), language="fr", title="Suite"))
    send_hebdo(store, settings, now + timedelta(days=7))
    assert [r.rcpt_tos[0] for r in smtp.handler.received] == [STATIC, sub.address, STATIC]


# --------------------------------------------------------------------------------------------
# The spliced copies are the reference message


def test_a_spliced_copy_is_the_message_the_reference_builds(
    settings: config.Settings, store: SqlStore, now: datetime
) -> None:
    french_posts(store, now)
    subscribe(store, settings, "Zoé.Durand@ville.example", "fr", now - timedelta(days=1))
    edition = settings.edition("hebdo")
    prepared = prepare(store, settings, edition, now)
    [static, person] = audience(store, settings, edition, prepared.record.id, now, tokens(now))
    assert static == Recipient(STATIC)
    fast = parsed(MessageBatch(settings, prepared, now).copy_for(person).data)
    _, _, reference = message_for(settings, prepared, person, now)
    slow = parsed(reference.as_bytes())
    for name in ("From", "To", "Subject", "Date", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert fast[name] == slow[name], name
    for kind in ("plain", "html"):
        assert fast.get_body((kind,)).get_content() == slow.get_body((kind,)).get_content()  # type: ignore[union-attr]
    assert fast["Message-ID"] != slow["Message-ID"]


# --------------------------------------------------------------------------------------------
# The bounce mailbox


def test_the_bounce_mailbox_updates_statuses_against_the_edition_that_caused_them(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, now: datetime
) -> None:
    french_posts(store, now)
    week_ago = now - timedelta(days=7)
    names = ("gone", "full", "complains", "once")
    people = {n: subscribe(store, settings, f"{n}@ville.example", "fr", week_ago) for n in names}
    send_hebdo(store, settings, now)
    [edition] = store.list_editions()
    verp = {r.rcpt_tos[0]: r.mail_from for r in smtp.handler.received}

    box = mailbox.Maildir(settings.base_dir / "bounces", create=True)

    def drop(sample: str, name: str) -> None:
        address = people[name].address
        text = (DATA / sample).read_text(encoding="utf-8")
        box.add(text.format(verp=verp[address], rcpt=address).encode("utf-8"))

    drop("gmail_hard.eml", "gone")
    drop("outlook_delayed.eml", "full")
    drop("yahoo_mailbox_full.eml", "full")
    drop("postfix_deferred.eml", "full")
    drop("yahoo_arf_complaint.eml", "complains")
    drop("postfix_deferred.eml", "once")
    box.add(b"From: someone@ville.example\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n")

    later = now + timedelta(days=1)
    with open_inbox(settings.subscribers.mailbox, settings.base_dir, {}) as inbox:  # type: ignore[arg-type]
        outcomes = process_inbox(store, settings, tokens(later), inbox, later)

    status = {n: store.get_subscriber(p.id).status for n, p in people.items()}  # type: ignore[union-attr]
    assert status == {
        "gone": Status.BOUNCED,  # one hard bounce
        "full": Status.BOUNCED,  # the third soft bounce within 30 days
        "complains": Status.COMPLAINED,
        "once": Status.CONFIRMED,  # one soft bounce is not enough
    }
    assert {o.edition_id for o in outcomes} == {edition.id}
    kinds = [e.kind for e in store.subscriber_events(people["full"].id)]
    assert kinds.count("soft_bounce") == 3
    assert [e.edition_id for e in store.subscriber_events(people["gone"].id)][-1] == edition.id
    assert len(box) == 1  # reports deleted once applied; the out-of-office reply left alone

    add(store, make_post(9, first_seen=now + timedelta(days=3), language="fr", title="Suite"))
    smtp.handler.received.clear()
    send_hebdo(store, settings, now + timedelta(days=7))
    assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == sorted(
        [STATIC, "once@ville.example"]
    )


def test_reports_are_classified_as_providers_send_them() -> None:
    fill = {"verp": "bounces+1.abcdef12.sig@network.example.org", "rcpt": "x@ville.example"}

    def sample(name: str) -> bytes:
        return (DATA / name).read_text(encoding="utf-8").format(**fill).encode()

    bounce = "bounces@network.example.org"
    hard = classify(sample("gmail_hard.eml"), bounce)
    assert hard is not None and hard.kind is Kind.HARD and hard.addresses == ("x@ville.example",)
    assert hard.verp == fill["verp"] and hard.detail == "status 5.1.1"
    for soft in ("outlook_delayed.eml", "yahoo_mailbox_full.eml", "postfix_deferred.eml"):
        report = classify(sample(soft), bounce)
        assert report is not None and report.kind is Kind.SOFT, soft
    complaint = classify(sample("yahoo_arf_complaint.eml"), bounce)
    assert complaint is not None and complaint.kind is Kind.COMPLAINT
    assert complaint.addresses == ("x@ville.example",) and complaint.verp == fill["verp"]
    assert classify(b"Subject: hello\r\n\r\nnot a bounce\r\n", bounce) is None
