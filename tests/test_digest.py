"""Digest editions end to end: selection window, rendering, Gmail clip, preview, the ledger and
real SMTP delivery (aiosmtpd on 127.0.0.1), and a headless chromium render of the HTML part."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import lxml.html
import pytest

from aggregator.config import (
    DigestSettings,
    EditionSettings,
    Settings,
    SiteSettings,
    SmtpSettings,
)
from aggregator.models import (
    EditionRecord,
    Post,
    RecipientState,
    RecipientStatus,
    Source,
    SourceState,
    SourceUpdate,
)
from aggregator.newsletter.digest import preview, send
from aggregator.newsletter.editions import select_posts
from aggregator.newsletter.look import DigestLook
from aggregator.newsletter.mail import SmtpSender
from aggregator.newsletter.render import CLIP_BYTES, UNSUBSCRIBE_TOKEN, render_edition
from aggregator.present.images import make_variants, stored
from aggregator.store import open_store
from aggregator.store.protocol import Store
from tests.browser import CHROMIUM, dump_dom
from tests.httpserver import FixtureServer
from tests.stores import at_head
from tests.test_mail import FakeClock, SmtpServer, free_port

BASE = "https://news.network.example.org/"
UNSUB = "https://news.network.example.org/unsubscribe?email={email}&edition={edition}"
RECIPIENTS = ["ana@example.org", "bruno@example.org", "chloe@example.org"]

SOURCES = [
    Source(id="uclg", name="UCLG news", organisation="UCLG", url="https://uclg.example.org/feed"),
    Source(id="cemr", name="CEMR news", organisation="CEMR", url="https://cemr.example.org/feed"),
    Source(
        id="platforma",
        name="PLATFORMA",
        organisation="PLATFORMA",
        url="https://platforma.example.org/feed",
    ),
]


# --------------------------------------------------------------------------------------------
# A small in-memory store, faithful to the Protocol's docstrings for the methods digest uses


class FakeStore:
    def __init__(self, sources: Sequence[Source] = SOURCES) -> None:
        self.sources = {s.id: s for s in sources}
        self.posts: dict[str, Post] = {}
        self.editions: dict[str, EditionRecord] = {}
        self.ledger: dict[str, dict[str, RecipientStatus]] = {}
        self.locks: dict[str, tuple[str, datetime]] = {}

    def add(self, *posts: Post) -> None:
        for p in posts:
            first_seen = self.posts[p.id].first_seen if p.id in self.posts else p.first_seen
            self.posts[p.id] = replace(p, first_seen=first_seen)

    def get_sources(self) -> dict[str, Source]:
        return dict(self.sources)

    def posts_first_seen(
        self, after: datetime | None, until: datetime, *, language: str | None = None
    ) -> list[Post]:
        found = [
            p
            for p in self.posts.values()
            if (after is None or p.first_seen > after)
            and p.first_seen <= until
            and (language is None or p.language == language)
        ]
        return sorted(found, key=lambda p: (p.first_seen, p.id))

    def posts_by_ids(self, ids: Sequence[str]) -> list[Post]:
        return [self.posts[i] for i in ids if i in self.posts]

    def recent_posts(self, limit: int) -> list[Post]:
        newest = sorted(self.posts.values(), key=lambda p: (p.published, p.id), reverse=True)
        return newest[:limit]

    def last_edition(self, name: str) -> EditionRecord | None:
        mine = [e for e in self.editions.values() if e.name == name]
        return max(mine, key=lambda e: (e.window_end, e.created), default=None)

    def get_edition(self, edition_id: str) -> EditionRecord | None:
        return self.editions.get(edition_id)

    def get_curation(self, edition_id: str) -> None:
        return None  # staff's curation: tests/test_curation.py, against the real store

    def list_editions(self, limit: int = 50) -> list[EditionRecord]:
        return sorted(self.editions.values(), key=lambda e: e.window_end, reverse=True)[:limit]

    def save_edition(self, edition: EditionRecord, recipients: Sequence[str]) -> None:
        self.editions[edition.id] = edition
        ledger = self.ledger.setdefault(edition.id, {})
        for address in recipients:
            ledger.setdefault(address, RecipientStatus(edition.id, address, RecipientState.PENDING))

    def open_edition(
        self, edition: EditionRecord, recipients: Sequence[str], based_on: str | None
    ) -> bool:
        current = self.last_edition(edition.name)
        existing = self.editions.get(edition.id)
        if (current.id if current else None) != based_on or (existing and existing.sent):
            return False
        self.save_edition(replace(edition, sent=False), recipients)
        return True

    def recipients(self, edition_id: str) -> list[RecipientStatus]:
        return list(self.ledger.get(edition_id, {}).values())

    def list_subscribers(self, **_: Any) -> list[Any]:
        return []  # no list: the editions' static recipients only

    def suppressed(self, hashes: Any) -> dict[str, str]:
        return {}

    def claim_recipient(self, edition_id: str, address: str, now: datetime) -> bool:
        status = self.ledger.get(edition_id, {}).get(address)
        if status is None or status.state not in (RecipientState.PENDING, RecipientState.FAILED):
            return False
        self.ledger[edition_id][address] = replace(
            status, state=RecipientState.SENDING, updated=now
        )
        return True

    def mark_recipient(
        self,
        edition_id: str,
        address: str,
        state: RecipientState,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        status = self.ledger[edition_id][address]
        self.ledger[edition_id][address] = replace(
            status, state=state, message_id=message_id, error=error, updated=now
        )

    def acquire_lock(self, name: str, owner: str, now: datetime, ttl_s: float) -> str | None:
        held = self.locks.get(name)
        if held and held[0] != owner and held[1] > now:
            return held[0]
        self.locks[name] = (owner, now + timedelta(seconds=ttl_s))
        return None

    def release_lock(self, name: str, owner: str) -> None:
        if self.locks.get(name, ("",))[0] == owner:
            del self.locks[name]


@pytest.fixture(params=["fake", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The in-memory fake, and the real SQLite store: the ledger rules hold for both."""
    if request.param == "fake":
        yield FakeStore()
        return
    real = open_store(at_head(f"sqlite:///{tmp_path / 'digest.sqlite3'}"))
    real.sync_sources(SOURCES)
    yield real
    real.close()


def add(store: Store, *posts: Post) -> None:
    """Store posts the way an update cycle would, whichever store this is."""
    if isinstance(store, FakeStore):
        store.add(*posts)
        return
    for source_id in sorted({p.source_id for p in posts}):
        url = next(s.url for s in SOURCES if s.id == source_id)
        mine = tuple(p for p in posts if p.source_id == source_id)
        store.apply_update(SourceUpdate(source_id, SourceState(source_id, url), mine))


def ledger(store: Store, edition_id: str) -> dict[str, RecipientStatus]:
    return {r.address: r for r in store.recipients(edition_id)}


def states(store: Store, edition_id: str) -> dict[str, RecipientState]:
    return {a: r.state for a, r in ledger(store, edition_id).items()}


def is_sent(store: Store, edition_id: str) -> bool:
    edition = store.get_edition(edition_id)
    assert edition is not None
    return edition.sent


def edition_ids(store: Store) -> list[str]:
    return [e.id for e in store.list_editions()]


# --------------------------------------------------------------------------------------------
# Helpers


def make_post(
    n: int,
    *,
    first_seen: datetime,
    published: datetime | None = None,
    source: str = "uclg",
    language: str = "en",
    title: str | None = None,
    excerpt: str | None = None,
    topics: tuple[str, ...] = (),
) -> Post:
    published = published or first_seen
    return Post(
        id=f"post-{n}",
        source_id=source,
        guid=f"guid-{n}",
        title=title or f"Post {n}: Local governments & climate",
        link=f"https://{source}.example.org/news/{n}",
        published=published,
        updated=published,
        first_seen=first_seen,
        language=language,
        excerpt=excerpt if excerpt is not None else f"Excerpt of post {n}. Cities act together.",
        content_html="<p>body</p>",
        topics=topics,
    )


def make_settings(tmp_path: Path, smtp: SmtpServer | None = None, **edition: Any) -> Settings:
    values: dict[str, Any] = {"name": "weekly", "recipients": RECIPIENTS}
    values.update(edition)
    smtp_settings = (
        smtp.settings()
        if smtp
        else SmtpSettings(
            host="127.0.0.1",
            port=free_port(),
            security="none",
            from_address="news@network.example.org",
            timeout_s=2,
        )
    )
    return Settings(
        site=SiteSettings(title="Local governments network", base_url=BASE),
        digest=DigestSettings(
            unsubscribe_url=UNSUB,
            smtp=smtp_settings,
            editions=[EditionSettings(**values)],
        ),
        path=tmp_path / "feeds.yaml",
    )


def paced(settings: Any) -> SmtpSender:
    """A real SMTP sender whose rate limit sleeps on a fake clock."""
    clock = FakeClock()
    return SmtpSender(settings, env={}, sleep=clock.sleep, clock=clock)


def html_part(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def text_part(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def titles_in(html: str) -> list[str]:
    doc = lxml.html.fromstring(html)
    return [a.text_content() for a in doc.cssselect(".item-title a")]


# --------------------------------------------------------------------------------------------
# Sending an edition over real SMTP


def test_edition_reaches_three_recipients_with_full_headers(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(
        store,
        make_post(1, first_seen=now - timedelta(hours=3)),
        make_post(
            2,
            first_seen=now - timedelta(hours=2),
            source="cemr",
            language="fr",
            title="Les villes et le climat",
        ),
        make_post(3, first_seen=now - timedelta(hours=1), source="platforma"),
    )
    settings = make_settings(tmp_path, smtp)
    report = send(store, settings, "weekly", now, smtp_factory=paced)

    assert report.complete
    assert report.error is None
    assert sorted(report.sent) == RECIPIENTS
    assert str(report) == "weekly-2026-11-20T12:00:00Z: 3 sent, 0 refused; edition complete"
    assert report.edition is not None
    assert report.edition.id == "weekly-2026-11-20T12:00:00Z"
    recipients = ledger(store, report.edition.id)
    assert {s.state for s in recipients.values()} == {RecipientState.SENT}
    assert is_sent(store, report.edition.id)

    received = smtp.handler.received
    assert len(received) == 3
    for got in received:
        (address,) = got.rcpt_tos
        msg = got.parsed()
        assert msg["To"] == address
        assert msg["From"].addresses[0].addr_spec == "news@network.example.org"
        assert msg["Subject"] == "Local governments network: 3 new posts"
        assert msg["Date"].datetime == now
        assert msg["Message-ID"] == recipients[address].message_id
        assert msg["Message-ID"].endswith("@network.example.org>")
        personal = UNSUB.format(email=quote(address, safe=""), edition=quote(report.edition.id))
        assert msg["List-Unsubscribe"] == f"<{personal}>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]

        html = html_part(msg)
        doc = lxml.html.fromstring(html)
        hrefs = [a.get("href") for a in doc.iter("a")]
        # three items (title and "(+)"), the site's logo, title and link, the member pages
        # (submit, sources), the preference page (signup for a static recipient) and the
        # unsubscribe link
        assert len(hrefs) == 3 * 2 + 3 + 2 + 1 + 1
        assert all(urlsplit(h).scheme == "https" and urlsplit(h).netloc for h in hrefs), hrefs
        assert personal in hrefs
        assert UNSUBSCRIBE_TOKEN not in html
        assert sorted(titles_in(html)) == sorted(
            [
                "Post 1: Local governments & climate",
                "Les villes et le climat",
                "Post 3: Local governments & climate",
            ]
        )
        langs = [td.get("lang") for td in doc.cssselect("td.item")]
        assert sorted(langs) == ["en", "en", "fr"]
        headings = [h.text_content() for h in doc.cssselect("h2")]
        assert headings == ["CEMR", "PLATFORMA", "UCLG"]

        text = text_part(msg)
        assert "https://cemr.example.org/news/2\n" in text
        assert f"Unsubscribe:\n{personal}" in text
        assert "<" not in text.replace(f"<{personal}>", "")


def test_refused_recipient_is_failed_then_retried_alone_then_nothing(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now - timedelta(hours=1)))
    settings = make_settings(tmp_path, smtp)
    smtp.handler.refuse.add("bruno@example.org")

    first = send(store, settings, "weekly", now, smtp_factory=paced)
    assert first.edition is not None
    edition_id = first.edition.id
    assert sorted(first.sent) == ["ana@example.org", "chloe@example.org"]
    assert first.failed == (("bruno@example.org", "550 no such user"),)
    assert not first.complete
    status = ledger(store, edition_id)["bruno@example.org"]
    assert status.state is RecipientState.FAILED
    assert status.error == "550 no such user"
    assert not is_sent(store, edition_id)

    smtp.handler.refuse.clear()
    later = now + timedelta(minutes=30)
    retry = send(store, settings, "weekly", later, smtp_factory=paced)
    assert retry.edition is not None
    assert retry.edition.id == edition_id
    assert retry.sent == ("bruno@example.org",)
    assert retry.complete
    assert [r.rcpt_tos for r in smtp.handler.received[2:]] == [["bruno@example.org"]]
    assert is_sent(store, edition_id)

    again = send(store, settings, "weekly", later, smtp_factory=paced)
    assert again.empty
    assert again.sent == ()
    assert len(smtp.handler.received) == 3
    assert edition_ids(store) == [edition_id]


def test_an_address_refused_twice_does_not_hold_back_later_editions(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now - timedelta(hours=1)))
    settings = make_settings(tmp_path, smtp)
    smtp.handler.refuse.add("bruno@example.org")
    send(store, settings, "weekly", now, smtp_factory=paced)
    retry = send(store, settings, "weekly", now + timedelta(hours=1), smtp_factory=paced)
    assert retry.failed
    assert retry.complete

    add(store, make_post(2, first_seen=now + timedelta(days=1)))
    nxt = send(store, settings, "weekly", now + timedelta(days=7), smtp_factory=paced)
    assert nxt.edition is not None
    assert nxt.edition.window_start == now
    assert nxt.edition.post_ids == ("post-2",)


def test_a_recipient_left_sending_by_a_crash_is_never_mailed_again(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now - timedelta(hours=1)))
    settings = make_settings(tmp_path, smtp)
    files = preview(store, settings, "weekly", now)
    assert store.claim_recipient(files.edition.id, "ana@example.org", now)  # then "crashed"

    report = send(store, settings, "weekly", now, smtp_factory=paced)
    assert "ana@example.org" in report.skipped
    assert sorted(report.sent) == ["bruno@example.org", "chloe@example.org"]
    assert smtp.handler.to("ana@example.org") == []
    assert states(store, files.edition.id)["ana@example.org"] is RecipientState.SENDING
    assert report.complete


def test_a_lost_server_leaves_unsent_recipients_pending(
    store: Store, tmp_path: Path, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now - timedelta(hours=1)))
    settings = make_settings(tmp_path)  # nothing listens on that port
    report = send(store, settings, "weekly", now, smtp_factory=paced)
    assert report.error is not None
    assert "cannot open" in report.error
    assert report.edition is not None
    assert set(states(store, report.edition.id).values()) == {RecipientState.PENDING}
    assert not is_sent(store, report.edition.id)


def test_a_late_post_with_an_old_date_is_in_the_next_edition_once(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    settings = make_settings(tmp_path, smtp, recipients=["ana@example.org"])
    add(store, make_post(1, first_seen=now - timedelta(days=1)))
    first = send(store, settings, "weekly", now, smtp_factory=paced)
    assert first.edition is not None
    assert first.edition.post_ids == ("post-1",)

    # first seen one hour after edition 1 closed, but published ten days before it
    add(
        store,
        make_post(
            2,
            first_seen=now + timedelta(hours=1),
            published=now - timedelta(days=10),
            title="Late arrival",
        ),
    )
    second = send(store, settings, "weekly", now + timedelta(days=7), smtp_factory=paced)
    assert second.edition is not None
    assert second.edition.post_ids == ("post-2",)
    third = send(store, settings, "weekly", now + timedelta(days=14), smtp_factory=paced)
    assert third.empty

    seen = [titles_in(html_part(r.parsed())) for r in smtp.handler.received]
    assert seen == [["Post 1: Local governments & climate"], ["Late arrival"]]


def test_feed_text_with_line_breaks_cannot_add_a_header(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now, title="Budget\r\nBcc: x@y.example\r\nX-Evil: 1"))
    settings = make_settings(
        tmp_path, smtp, subject="{first_title}", recipients=["ana@example.org"]
    )
    send(store, settings, "weekly", now, smtp_factory=paced)
    (got,) = smtp.handler.received
    assert got.rcpt_tos == ["ana@example.org"]
    msg = got.parsed()
    assert msg["Bcc"] is None
    assert msg["X-Evil"] is None
    assert msg["Subject"] == "Budget Bcc: x@y.example X-Evil: 1"
    assert titles_in(html_part(msg)) == ["Budget Bcc: x@y.example X-Evil: 1"]


def test_test_copy_is_marked_and_leaves_the_ledger_alone(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now))
    settings = make_settings(tmp_path, smtp)
    report = send(store, settings, "weekly", now, to="staff@example.org", smtp_factory=paced)
    assert report.test
    assert report.sent == ("staff@example.org",)
    (got,) = smtp.handler.received
    assert got.rcpt_tos == ["staff@example.org"]
    assert got.parsed()["Subject"] == "[TEST] Local governments network: 1 new posts"
    assert edition_ids(store) == []
    real = send(store, settings, "weekly", now, smtp_factory=paced)
    assert sorted(real.sent) == RECIPIENTS


def test_an_empty_window_sends_and_records_nothing(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    report = send(store, make_settings(tmp_path, smtp), "weekly", now, smtp_factory=paced)
    assert report.empty
    assert report.edition is None
    assert smtp.handler.received == []
    assert edition_ids(store) == []

    always = make_settings(tmp_path, smtp, skip_empty=False, recipients=["ana@example.org"])
    sent = send(store, always, "weekly", now, smtp_factory=paced)
    assert sent.sent == ("ana@example.org",)
    assert titles_in(html_part(smtp.handler.received[0].parsed())) == []


# --------------------------------------------------------------------------------------------
# Selection


def test_selection_filters_language_topics_sources_and_caps(store: Store, now: datetime) -> None:
    add(
        store,
        make_post(1, first_seen=now, language="fr-CA", topics=("climate",)),
        make_post(2, first_seen=now, language="fr", topics=("housing",)),
        make_post(3, first_seen=now, language="en", topics=("climate",)),
        make_post(4, first_seen=now, language="fr", topics=("climate",), source="cemr"),
    )
    fr = EditionSettings(name="fr", language="fr", topics=["climate"])
    assert {p.id for p in select_posts(store, fr, None, now).posts} == {"post-1", "post-4"}
    uclg = EditionSettings(name="u", sources=["uclg"], max_items=2)
    sel = select_posts(store, uclg, None, now)
    assert len(sel.posts) == 2
    assert sel.over_cap == 1
    assert all(p.source_id == "uclg" for p in sel.posts)


def test_selection_window_is_first_seen_not_published(store: Store, now: datetime) -> None:
    last = EditionRecord(
        id="weekly-x",
        name="weekly",
        window_start=None,
        window_end=now,
        created=now,
        post_ids=(),
        subject="s",
        sent=True,
    )
    add(
        store,
        make_post(1, first_seen=now, published=now + timedelta(days=1)),  # closed window
        make_post(2, first_seen=now + timedelta(seconds=1), published=now - timedelta(days=300)),
        make_post(3, first_seen=now + timedelta(days=2)),  # after this edition's end
    )
    sel = select_posts(store, EditionSettings(name="weekly"), last, now + timedelta(days=1))
    assert [p.id for p in sel.posts] == ["post-2"]
    assert sel.window_start == now
    assert sel.window_end == now + timedelta(days=1)


# --------------------------------------------------------------------------------------------
# Rendering


def _render(tmp_path: Path, posts: Sequence[Post], now: datetime, **edition: Any) -> Any:
    settings = make_settings(tmp_path, **edition)
    return render_edition(
        settings, settings.edition("weekly"), posts, {s.id: s for s in SOURCES}, date=now
    )


def test_html_formatting_sits_in_style_attributes(tmp_path: Path, now: datetime) -> None:
    rendered = _render(tmp_path, [make_post(1, first_seen=now)], now)
    doc = lxml.html.fromstring(rendered.html)
    container = doc.cssselect("table.container")[0]
    assert container.get("width") == "100%"
    assert "max-width:600px" in container.get("style").replace(" ", "")
    assert "padding" in doc.cssselect("td.item")[0].get("style")
    assert "font-family:Arial" in doc.cssselect("td.item")[0].get("style").replace(" ", "")
    assert "color:#0b5cad" in doc.cssselect(".item-title a")[0].get("style").replace(" ", "")
    assert "display:none" in doc.cssselect(".preheader")[0].get("style").replace(" ", "")
    # what is left in <style> is only the media query, an optional enhancement
    leftover = " ".join(s.text_content() for s in doc.iter("style"))
    assert re.sub(r"@media[^{]*\{.*\}", "", leftover, flags=re.S).strip() == ""
    assert "<link" not in rendered.html
    assert "@import" not in rendered.html


def test_frame_is_localized(tmp_path: Path, now: datetime) -> None:
    rendered = _render(tmp_path, [make_post(1, first_seen=now, language="fr")], now, language="fr")
    doc = lxml.html.fromstring(rendered.html)
    assert doc.get("lang") == "fr"
    assert "20 novembre 2026" in rendered.html
    assert "Se désabonner" in rendered.html
    assert "Se désabonner\u00a0:\n" + UNSUBSCRIBE_TOKEN in rendered.text
    es = _render(tmp_path, [make_post(1, first_seen=now, language="es")], now, language="es")
    assert "20 de noviembre de 2026" in es.text


def test_plain_text_reads_well(tmp_path: Path, now: datetime) -> None:
    long = "Municipalities " + "cooperate across borders on housing and climate " * 6
    posts = [
        make_post(1, first_seen=now, excerpt=long.strip()),
        make_post(2, first_seen=now, source="cemr"),
    ]
    text = _render(tmp_path, posts, now).text
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and set(line) <= {"=", "-"} and i > 0:
            assert len(line) == len(lines[i - 1]), "an underline matches its heading"
        if not line.startswith("https://"):
            assert len(line) <= 72, line
    assert "CEMR\n----\n" in text
    assert "UCLG\n----\n" in text
    block = text.split("UCLG\n----\n", 1)[1]
    first_item = "Post 1: Local governments & climate\n- 20/11/2026\nMunicipalities"
    assert block.lstrip().startswith(first_item)
    assert "\n(+) https://uclg.example.org/news/1\nFrom: UCLG\n" in block
    assert not re.search(r"<[a-z/][^>]*>", text)


def test_group_by_topic(tmp_path: Path, now: datetime) -> None:
    posts = [
        make_post(1, first_seen=now, topics=("local-finance",)),
        make_post(2, first_seen=now, topics=()),
        make_post(3, first_seen=now, topics=("climate", "local-finance")),
    ]
    doc = lxml.html.fromstring(_render(tmp_path, posts, now, group_by="topic").html)
    assert [h.text_content() for h in doc.cssselect("h2")] == ["Climate", "Local finance", "Other"]
    assert len(doc.cssselect(".item-title")) == 3


def test_300_long_items_stay_under_gmails_clip(tmp_path: Path, now: datetime) -> None:
    long = (
        "Cities and regions share their experience of local climate action, "
        "housing policy and decentralised cooperation with partners abroad. "
    ) * 3
    posts = [
        make_post(
            n,
            first_seen=now,
            published=now - timedelta(hours=n),
            excerpt=long.strip(),
            title=f"Item {n:03d}: a fairly long title about local and regional governments",
        )
        for n in range(300)
    ]
    rendered = _render(tmp_path, posts, now, max_items=1000)
    size = len(rendered.html.encode())
    assert size <= CLIP_BYTES
    kept = len(rendered.post_ids)
    assert 0 < kept < 300
    # the newest items stay, the oldest go to the site
    assert rendered.post_ids == tuple(f"post-{n}" for n in range(kept))
    assert any("shortened" in n for n in rendered.notes)
    assert any(f"{300 - kept} oldest items" in n for n in rendered.notes)
    doc = lxml.html.fromstring(rendered.html)
    more = [a for a in doc.iter("a") if "More posts on the site" in a.text_content()]
    assert more
    assert more[0].get("href") == BASE
    assert f"({300 - kept})" in more[0].text_content()
    assert f"More posts on the site ({300 - kept}):\n{BASE}" in rendered.text
    excerpts = [d.text_content() for d in doc.cssselect(".excerpt")]
    assert all(len(e) <= 141 for e in excerpts)


# --------------------------------------------------------------------------------------------
# Preview


def test_preview_writes_three_files_and_is_stable_until_sent(
    store: Store, tmp_path: Path, smtp: SmtpServer, now: datetime
) -> None:
    add(store, make_post(1, first_seen=now - timedelta(hours=1)))
    settings = make_settings(tmp_path, smtp)
    files = preview(store, settings, "weekly", now)
    assert files.edition.id == "weekly-2026-11-20T12:00:00Z"
    assert files.html_path.parent == settings.digest_dir
    html = files.html_path.read_text(encoding="utf-8")
    assert titles_in(html) == ["Post 1: Local governments & climate"]
    assert UNSUBSCRIBE_TOKEN not in html
    assert "Post 1: Local governments & climate" in files.text_path.read_text(encoding="utf-8")
    eml = message_from_bytes(files.eml_path.read_bytes(), policy=policy.default)
    assert isinstance(eml, EmailMessage)
    assert eml.get_content_type() == "multipart/alternative"
    assert eml["To"] == "subscriber@example.invalid"
    for header in ("From", "Subject", "Date", "Message-ID", "List-Unsubscribe", "MIME-Version"):
        assert eml[header], header
    saved = store.get_edition(files.edition.id)
    assert saved is not None
    assert saved.eml_path == str(files.eml_path)

    add(store, make_post(2, first_seen=now + timedelta(hours=1)))
    again = preview(store, settings, "weekly", now + timedelta(hours=2))
    assert again.edition.id == files.edition.id
    assert again.edition.post_ids == ("post-1",)

    report = send(store, settings, "weekly", now + timedelta(hours=3), smtp_factory=paced)
    assert report.edition is not None
    assert report.edition.id == files.edition.id
    assert all(
        titles_in(html_part(r.parsed())) == ["Post 1: Local governments & climate"]
        for r in smtp.handler.received
    )
    nxt = preview(store, settings, "weekly", now + timedelta(hours=4))
    assert nxt.edition.id != files.edition.id
    assert nxt.edition.post_ids == ("post-2",)


def test_preview_of_an_empty_window_records_nothing(
    store: Store, tmp_path: Path, now: datetime
) -> None:
    files = preview(store, make_settings(tmp_path), "weekly", now)
    assert not files.saved
    assert edition_ids(store) == []
    assert any("nothing new" in note for note in files.edition.notes)
    assert files.html_path.exists()


# --------------------------------------------------------------------------------------------
# A real browser


_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="/email.html" style="width:{width}px;height:30000px;border:0"></iframe>
<script>
window.addEventListener('load', function () {{
  var w = document.getElementById('f').contentWindow, d = w.document;
  var titles = [].map.call(d.querySelectorAll('.item-title a'), function (a) {{
    var r = a.getBoundingClientRect(), cs = w.getComputedStyle(a);
    return {{text: a.textContent, left: r.left, right: r.right, width: r.width,
            height: r.height, visible: cs.visibility === 'visible' && cs.display !== 'none'}};
  }});
  var images = [].map.call(d.querySelectorAll('td.item img'), function (img) {{
    var r = img.getBoundingClientRect();
    return {{natural: img.naturalWidth, right: r.right, width: r.width}};
  }});
  var pre = document.createElement('pre');
  pre.id = 'measure';
  pre.textContent = JSON.stringify({{inner: w.innerWidth,
    scroll: d.documentElement.scrollWidth,
    table: d.querySelector('table.container').getBoundingClientRect().width,
    titles: titles, images: images}});
  document.body.appendChild(pre);
}});
</script></body></html>"""


def _png(width: int, height: int) -> bytes:
    """A plain grey RGB PNG, enough for a browser to load and lay out."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x99\x99\x99" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _measure(server: FixtureServer, width: int, profile: Path) -> dict[str, Any]:
    server.route(
        f"/frame{width}.html",
        _FRAME.format(width=width),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    stdout, stderr = dump_dom(
        server.url(f"/frame{width}.html"),
        profile,
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1024,800",
    )
    found = re.search(r'<pre id="measure">(.*?)</pre>', stdout, re.S)
    assert found, stderr
    data: dict[str, Any] = json.loads(lxml.html.fromstring(found.group(0)).text_content())
    return data


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_html_part_fits_600_and_375_pixels_in_chromium(
    tmp_path: Path, http_server: FixtureServer, now: datetime
) -> None:
    posts = [
        make_post(1, first_seen=now, title="A short title"),
        make_post(
            2,
            first_seen=now,
            source="cemr",
            language="fr",
            title="Une-très-longue-expression-sans-espaces-qui-pourrait-déborder-de-la-"
            "colonne-sur-un-petit-écran",
        ),
        make_post(
            3,
            first_seen=now,
            source="platforma",
            excerpt="https://platforma.example.org/a/very/long/url/without/any/"
            "break/opportunity/in/it/at/all/for/the/layout/engine",
        ),
    ]
    # a wide image, stored by the site (served here from 127.0.0.1), sits in its thumbnail cell
    made = make_variants(_png(1200, 400))
    record = stored(made)
    for width, data in made.variants.items():
        http_server.route(f"/{record.path(width)}", data, headers={"Content-Type": "image/jpeg"})
    # and one that never loads (images blocked or gone): its box must not widen the table
    gone = replace(record, key="0" * 24)
    posts[0] = replace(posts[0], image="https://uclg.example.org/wide.png")
    posts[1] = replace(posts[1], image="https://cemr.example.org/missing.png")
    look = DigestLook(images={posts[0].image: record, posts[1].image: gone})
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"site": settings.site.model_copy(update={"base_url": http_server.url("/")})}
    )
    rendered = render_edition(
        settings,
        settings.edition("weekly"),
        posts,
        {s.id: s for s in SOURCES},
        date=now,
        look=look,
    )
    http_server.route(
        "/email.html", rendered.html, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    expected = {p.title for p in posts}
    for width in (600, 375):
        m = _measure(http_server, width, tmp_path / f"profile-{width}")
        assert m["inner"] == width
        assert m["scroll"] <= width, m
        assert m["table"] <= width
        assert {t["text"] for t in m["titles"]} == expected
        # the stored thumbnail (160 px wide, shown at 120 or 88) and the missing one
        assert sorted(i["natural"] for i in m["images"]) == [0, 160]
        for img in m["images"]:
            assert 0 < img["width"] <= 120
            assert img["right"] <= width
        for t in m["titles"]:
            assert t["visible"], t
            assert t["width"] > 0, t
            assert t["height"] > 0, t
            assert t["left"] >= 0, t
            assert t["right"] <= width, t
    assert m["table"] < 600  # at 375 the 600 px table adapted


def test_a_topic_tagged_in_several_languages_shows_once_in_the_editions_language(
    tmp_path: Path, now: datetime
) -> None:
    """#13 point 17: one label per topic.  An English post tagged "Résilience, Resiliencia"
    shows "Resilience" in the all-languages edition (each post's own language), a French post
    "Résilience"; the French edition labels every topic in French.  Other tags stay."""
    from aggregator.present.topics import choose_topic_labels

    english = replace(make_post(1, first_seen=now, topics=("resilience",)),
                      tags=("Résilience", "Resiliencia", "Water"))  # fmt: skip
    french = replace(make_post(2, first_seen=now, language="fr", topics=("resilience",)),
                     tags=("Resilience", "Résilience"))  # fmt: skip
    topics = {"resilience": ["Resilience", "Résilience", "Resiliencia"]}
    declared = {"resilience": {"en": "Resilience", "fr": "Résilience", "es": "Resiliencia"}}
    look = DigestLook(topics=choose_topic_labels(topics, declared, [english, french]))

    def tag_lines(**edition: Any) -> tuple[list[str], str]:
        settings = make_settings(tmp_path, **edition)
        rendered = render_edition(settings, settings.edition("weekly"), [english, french],
                                  {s.id: s for s in SOURCES}, date=now, look=look)  # fmt: skip
        doc = lxml.html.fromstring(rendered.html)
        return [t.text_content() for t in doc.cssselect(".item .tags")], rendered.text

    shown, text = tag_lines()
    assert sorted(shown) == ["Resilience, Water", "Résilience"]
    assert "Resilience, Water - " in text and "Résilience - " in text
    assert "Resiliencia" not in text
    shown, _ = tag_lines(language="fr")
    assert sorted(shown) == ["Résilience", "Résilience, Water"]


def test_the_preview_file_shows_the_published_copies_of_site_images(tmp_path: Path) -> None:
    """Only ``<img src>`` under ``base_url`` whose copy is published becomes a path relative
    to the preview; a member's image, a missing copy or a path leaving the site stay."""
    from aggregator.newsletter.ondisk import images_from_disk

    site, previews = tmp_path / "public", tmp_path / "previews" / "digest"
    (site / "images" / "a b").mkdir(parents=True)
    (site / "images" / "a b" / "t.jpg").write_bytes(b"jpeg")
    (site / "static").mkdir()
    (site / "static" / "logo.png").write_bytes(b"png")
    (tmp_path / "secret.txt").write_text("x")
    page = (
        f'<img src="{BASE}static/logo.png" alt="">'
        f'<IMG width="120" src="{BASE}images/a%20b/t.jpg?v=2">'
        f'<img src="{BASE}images/gone.jpg"><img src="https://member.example/p.jpg">'
        f'<img src="{BASE}../secret.txt"><a href="{BASE}static/logo.png">site</a>'
    )
    out = images_from_disk(page, BASE, site, previews)
    assert out == (
        '<img src="../../public/static/logo.png" alt="">'
        '<IMG width="120" src="../../public/images/a%20b/t.jpg">'
        f'<img src="{BASE}images/gone.jpg"><img src="https://member.example/p.jpg">'
        f'<img src="{BASE}../secret.txt"><a href="{BASE}static/logo.png">site</a>'
    )
