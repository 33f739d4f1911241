"""Owner notices: one e-mail per change of a source's condition, through a real SMTP server.

The decision (``notices``) is checked as a pure function; ``send_notices`` is run cycle after
cycle against a real SQLite store and an aiosmtpd server on 127.0.0.1, the way the app calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from aggregator import config
from aggregator.members.notify import Condition, notices, send_notices
from aggregator.models import Post, Source, SourceState, SourceUpdate
from aggregator.store import SqlStore, open_store
from tests.stores import at_head
from tests.test_mail import SmtpServer

FAILING_DAYS = 3
QUIET_DAYS = 30


def source(ident: str = "riverside", contact: str | None = "web@riverside.example") -> Source:
    return Source(
        id=ident,
        name=f"{ident.title()} news",
        organisation=ident.title(),
        url=f"https://{ident}.example/feed.xml",
        contact=contact,
    )


def healthy(src: Source, now: datetime) -> SourceState:
    return SourceState(source_id=src.id, url=src.url, last_success=now, last_fetch=now)


def decide(
    src: Source,
    state: SourceState,
    now: datetime,
    told: dict[str, str] | None = None,
    last_post: datetime | None = None,
) -> list[Condition]:
    found = notices(
        [src],
        {src.id: state},
        told or {},
        now,
        last_post={src.id: last_post},
        failing_days=FAILING_DAYS,
        quiet_days=QUIET_DAYS,
    )
    return [n.condition for n in found]


# --------------------------------------------------------------------------------------------
# The pure decision


def test_failing_is_announced_only_after_the_configured_days(now: datetime) -> None:
    src = source()
    state = replace(
        healthy(src, now - timedelta(days=5)),
        failing_since=now - timedelta(days=2),
        consecutive_failures=20,
        last_error="HTTP 500",
    )
    assert decide(src, state, now) == []
    older = replace(state, failing_since=now - timedelta(days=FAILING_DAYS))
    assert decide(src, older, now) == [Condition.FAILING]
    # already told about this very condition: nothing, however many failures follow
    assert decide(src, replace(older, consecutive_failures=99), now, {src.id: "failing"}) == []


def test_gone_moved_and_quiet_each_have_their_notice(now: datetime) -> None:
    src = source()
    assert decide(src, replace(healthy(src, now), gone=True), now) == [Condition.GONE]
    moved = replace(healthy(src, now), url="https://riverside.example/new-feed.xml")
    found = notices([src], {src.id: moved}, {}, now, failing_days=3, quiet_days=30)
    assert [n.detail for n in found] == ["https://riverside.example/new-feed.xml"]
    quiet_since = now - timedelta(days=QUIET_DAYS)
    assert decide(src, healthy(src, now), now, last_post=quiet_since) == [Condition.QUIET]
    assert decide(src, healthy(src, now), now, last_post=now - timedelta(days=29)) == []


def test_no_contact_or_disabled_means_no_notice(now: datetime) -> None:
    gone = replace(healthy(source(), now), gone=True)
    assert decide(source(contact=None), gone, now) == []
    assert decide(replace(source(), enabled=False), gone, now) == []


# --------------------------------------------------------------------------------------------
# Sending, cycle after cycle


def settings_for(tmp_path: Path, smtp: SmtpServer) -> config.Settings:
    text = f"""
site:
  title: Network news
fetch:
  failing_days: {FAILING_DAYS}
  quiet_days: {QUIET_DAYS}
digest:
  smtp:
    host: 127.0.0.1
    port: {smtp.port}
    security: none
    from_address: news@network.example.org
    rate_per_minute: 6000
sources:
  - id: riverside
    name: Riverside news
    organisation: Riverside
    url: "https://riverside.example/feed.xml"
    contact: web@riverside.example
  - id: hillcrest
    name: Hillcrest news
    organisation: Hillcrest
    url: "https://hillcrest.example/feed.xml"
"""
    return config.loads(text, tmp_path / "feeds.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(at_head(f"sqlite:///{tmp_path / 'store.sqlite3'}"))
    yield opened
    opened.close()


def fail(store: SqlStore, source_id: str, since: datetime, at: datetime, n: int) -> None:
    state = store.get_states()[source_id]
    store.set_state(
        replace(
            state,
            failing_since=since,
            consecutive_failures=n,
            last_error="HTTP 503 Service Unavailable",
            last_error_at=at,
            last_fetch=at,
        )
    )


def recover(store: SqlStore, source_id: str, at: datetime) -> None:
    state = store.get_states()[source_id]
    store.set_state(
        replace(state, failing_since=None, consecutive_failures=0, last_success=at, last_error=None)
    )


def test_one_email_per_state_change_not_per_failure(
    tmp_path: Path, smtp: SmtpServer, store: SqlStore, now: datetime
) -> None:
    settings = settings_for(tmp_path, smtp)
    store.sync_sources(settings.source_list())
    start = now - timedelta(days=10)
    for src in ("riverside", "hillcrest"):
        fail(store, src, start, start, 1)

    # hourly cycles for five days of failures: one notice once the failure is 3 days old
    sent = []
    for hour in range(0, 24 * 5, 6):
        at = start + timedelta(hours=hour)
        fail(store, "riverside", start, at, hour + 1)
        fail(store, "hillcrest", start, at, hour + 1)
        sent += send_notices(store, settings, at).sent
    assert [(n.source_id, n.condition) for n in sent] == [("riverside", Condition.FAILING)]
    mails = smtp.handler.received
    assert len(mails) == 1  # hillcrest has no contact: nobody to tell
    message = mails[0].parsed()
    assert mails[0].rcpt_tos == ["web@riverside.example"]
    assert "Riverside news" in str(message["Subject"])
    assert "failing since" in str(message["Subject"])
    body = message.get_body(("plain",))
    assert body is not None and "HTTP 503 Service Unavailable" in body.get_content()

    # it works again: no mail, but the next breakdown is news again
    back = start + timedelta(days=6)
    recover(store, "riverside", back)
    assert send_notices(store, settings, back).sent == ()
    assert store.last_notices() == {"riverside": "ok"}
    again = back + timedelta(days=1)
    fail(store, "riverside", again, again, 1)
    assert send_notices(store, settings, again + timedelta(days=1)).sent == ()
    later = again + timedelta(days=FAILING_DAYS)
    assert len(send_notices(store, settings, later).sent) == 1
    assert send_notices(store, settings, later + timedelta(hours=1)).sent == ()
    assert len(smtp.handler.received) == 2


def test_quiet_source_is_told_once_from_its_stored_posts(
    tmp_path: Path, smtp: SmtpServer, store: SqlStore, now: datetime
) -> None:
    settings = settings_for(tmp_path, smtp)
    store.sync_sources(settings.source_list())
    state = store.get_states()["riverside"]
    old = now - timedelta(days=QUIET_DAYS + 5)
    post = Post(
        id="riverside-1",
        source_id="riverside",
        guid="1",
        title="The last post",
        link="https://riverside.example/news/1",
        published=old,
        updated=old,
        first_seen=old,
        language="en",
        excerpt="",
        content_html="<p>x</p>",
        content_hash="h",
    )
    store.apply_update(SourceUpdate("riverside", replace(state, last_success=now), (post,)))
    report = send_notices(store, settings, now)
    assert [n.condition for n in report.sent] == [Condition.QUIET]
    assert "no new posts" in str(smtp.handler.received[0].parsed()["Subject"])
    assert send_notices(store, settings, now + timedelta(days=1)).sent == ()


def test_mail_server_down_records_nothing_so_the_notice_is_retried(
    tmp_path: Path, store: SqlStore, now: datetime
) -> None:
    server = SmtpServer()  # not started yet: its port refuses connections
    settings = settings_for(tmp_path, server)
    store.sync_sources(settings.source_list())
    fail(store, "riverside", now - timedelta(days=5), now, 30)
    report = send_notices(store, settings, now)
    assert report.sent == () and report.error is not None
    assert store.last_notices() == {}
    server.controller.start()
    try:
        assert len(send_notices(store, settings, now).sent) == 1
        assert len(server.handler.received) == 1
    finally:
        server.controller.stop()
