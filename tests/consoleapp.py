"""A staff console to test against: feeds.yaml, a real SQLite store with posts, an aiosmtpd
sink, accounts of each role, and the application (member pages + console) on aiohttp.

Shared by tests/test_console.py (HTTP) and tests/test_console_browser.py (chromium).  Clocks
are injected: ``Clock`` for datetimes, ``Ticks`` for the rate limiters' monotonic time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web

from aggregator import config
from aggregator.accounts.passwords import cheap_hasher
from aggregator.config import SmtpSettings
from aggregator.models import Post, SourceState, SourceUpdate
from aggregator.newsletter.mail import SmtpSender
from aggregator.store import SqlStore, open_store
from aggregator.web.console import add_console_routes
from aggregator.web.members import add_member_routes
from aggregator.web.session import SECRET_ENV
from tests.stores import at_head
from tests.test_mail import FakeClock, SmtpServer

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ROLES = {
    "admin": "ana@network.example.org",
    "editor": "eli@network.example.org",
    "moderator": "mo@network.example.org",
}


class Clock:
    """The application's "now", moved by the test."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def feeds_yaml(path: Path, smtp: SmtpServer, *, extra: str = "") -> Path:
    path.write_text(
        f"""# console test network
site:
  title: "Console test network"
  base_url: "https://news.example.org/"
  output_dir: output
  languages: [en, fr, es]
digest:
  smtp:
    host: 127.0.0.1
    port: {smtp.port}
    security: none
    from_address: news@network.example.org
    from_name: Network news
    rate_per_minute: 6000   # the CLI's real sender paces itself; tests do not wait
  editions:
    - name: weekly
      schedule: "0 8 * * mon"
      recipients: [reader1@example.org, reader2@example.org]
      skip_empty: true
sources:
  - id: uclg
    name: UCLG News
    organisation: United Cities and Local Governments
    url: "https://uclg.example/feed.xml"
    homepage: "https://uclg.example/"
    language: en
  - id: cemr
    name: CEMR News
    organisation: Council of European Municipalities and Regions
    url: "https://cemr.example/feed.xml"
    language: en
{extra}""",
        encoding="utf-8",
    )
    return path


def post(n: int, source: str = "uclg", **changes: Any) -> Post:
    return Post(
        id=f"{source}-{n:03d}",
        source_id=source,
        guid=f"https://{source}.example/?p={n}",
        title=changes.pop("title", f"{source.upper()} story {n}"),
        link=f"https://{source}.example/posts/{n}",
        published=T0 - timedelta(hours=n),
        updated=T0 - timedelta(hours=n),
        first_seen=T0 - timedelta(minutes=30),
        language="en",
        excerpt=f"What happened in story {n}.",
        content_html=f"<p>Body {n}</p>",
        content_hash=f"hash-{source}-{n}",
        **changes,
    )


def seed(store: SqlStore, settings: config.Settings, posts: list[Post]) -> None:
    store.sync_sources(settings.source_list())
    by_source: dict[str, list[Post]] = {}
    for p in posts:
        by_source.setdefault(p.source_id, []).append(p)
    for sid, mine in by_source.items():
        url = {s.id: s.url for s in settings.source_list()}[sid]
        state = SourceState(
            sid, url, last_fetch=T0 - timedelta(minutes=30), last_success=T0 - timedelta(minutes=30)
        )
        store.apply_update(SourceUpdate(sid, state, tuple(mine)))


def quiet_sender(settings: SmtpSettings) -> SmtpSender:
    """The real SMTP sender, with its pacing clock faked (no sleeping in tests)."""
    clock = FakeClock()
    return SmtpSender(settings, env={}, sleep=clock.sleep, clock=clock)


@dataclass
class Console:
    path: Path
    smtp: SmtpServer
    clock: Clock = field(default_factory=Clock)
    ticks: Ticks = field(default_factory=Ticks)
    trusted: list[str] = field(default_factory=list)
    store: SqlStore | None = None
    _read: tuple[str, config.Settings] | None = None  # the file's text, and its settings

    @property
    def settings(self) -> config.Settings:
        """The settings as the file says now (the console may rewrite it); parsed again only
        when its text changed, since tests ask for them at every step."""
        text = self.path.read_text(encoding="utf-8")
        if self._read is None or self._read[0] != text:
            self._read = (text, config.load(self.path))
        settings = self._read[1]
        if self.trusted:
            web_settings = config.WebSettings(trusted_proxies=self.trusted)
            settings = settings.model_copy(update={"web": web_settings})
        return settings

    def open_store(self) -> SqlStore:
        if self.store is None:
            self.store = open_store(at_head(self.settings.storage_url))
        return self.store

    def add_accounts(self) -> None:
        store, hasher = self.open_store(), cheap_hasher()
        for role, address in ROLES.items():
            lang = "en"
            store.add_account(address, role, hasher.hash(PASSWORD), lang, self.clock())

    def app(self, **console_kwargs: Any) -> web.Application:
        app = web.Application()
        add_member_routes(
            app,
            self.settings,
            clock=self.clock,
            monotonic=self.ticks,
            env={SECRET_ENV: "s" * 48},
            store_factory=self.open_store,
        )
        add_console_routes(
            app, hasher=cheap_hasher(), sender=quiet_sender, monotonic=self.ticks, **console_kwargs
        )
        return app

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [r.parsed() for r in self.smtp.handler.to(address)]

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def seeded_console(folder: Path, smtp: SmtpServer) -> Iterator[Console]:
    """The console the tests sign in to: three UCLG posts and two CEMR ones, an account of
    each role, mail to ``smtp``; its store closed on the way out."""
    made = Console(feeds_yaml(folder / "feeds.yaml", smtp), smtp)
    posts = [post(n) for n in range(1, 4)] + [post(n, "cemr") for n in range(1, 3)]
    seed(made.open_store(), made.settings, posts)
    made.add_accounts()
    try:
        yield made
    finally:
        made.close()
