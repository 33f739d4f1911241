"""The subscription pages over HTTP: signup with double opt-in (the mail through aiosmtpd on
127.0.0.1), the confirmation button, preferences, the one-click unsubscribe of RFC 8058, and
every link refused when tampered, expired, stale or of another kind."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from aggregator import config
from aggregator.store import SqlStore, open_store
from aggregator.store.subscribers import Status
from aggregator.subscribers.tokens import Purpose, Tokens
from aggregator.web.members import add_member_routes
from tests.stores import at_head
from tests.test_mail import SmtpServer
from tests.test_members_web import CSRF_RE, run_app

SECRET = "s" * 40
ADDRESS = "Camille.Martin@ville.example"

FEEDS_YAML = """\
site:
  title: "Réseau des villes"
  base_url: "https://news.example.org/"
  languages: [en, fr, es]
digest:
  smtp:
    host: 127.0.0.1
    port: {port}
    security: none
    from_address: news@network.example.org
    rate_per_minute: 6000
  editions:
    - name: weekly
      language: en
    - name: hebdo
      language: fr
    - name: semanal
      language: es
subscribers:
  bounce_address: bounces@network.example.org
"""


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def feeds_yaml(tmp_path: Path, smtp: SmtpServer) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML.format(port=smtp.port), encoding="utf-8")
    return path


@pytest.fixture
def settings(feeds_yaml: Path) -> config.Settings:
    return config.load(feeds_yaml)


@pytest.fixture
def store(settings: config.Settings) -> Iterator[SqlStore]:
    opened = open_store(at_head(settings.storage_url))
    yield opened
    opened.close()


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


def subscriber_app(settings: config.Settings, clock: Clock, **kwargs: Any) -> web.Application:
    app = web.Application()
    add_member_routes(app, settings, clock=clock, env={"AGGREGATOR_SECRET": SECRET}, **kwargs)
    return app


def tokens(clock: Clock) -> Tokens:
    return Tokens(SECRET.encode(), clock)


async def csrf(client: TestClient[Any, Any], path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    found = CSRF_RE.search(await resp.text())
    assert found is not None
    return found.group(1)


def signup_form(token: str, **values: str) -> dict[str, str]:
    base = {
        "csrf": token,
        "address": ADDRESS,
        "language": "fr",
        "edition-hebdo": "on",
        "consent": "yes",
    }
    base.update(values)
    return {k: v for k, v in base.items() if v is not None}


def link_in(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    found = re.search(r"https://\S+", str(body.get_content()))
    assert found is not None
    return found.group(0)


def local(url: str) -> str:
    """The path and query of a link to the site, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def assert_no_address(url: str, address: str = ADDRESS) -> None:
    for spelling in (address, address.lower(), quote(address), quote(address, safe="")):
        assert spelling not in url
        assert spelling.lower() not in url.lower()


# --------------------------------------------------------------------------------------------
# Signup and double opt-in


def test_signup_in_french_mails_a_link_whose_get_changes_nothing_and_whose_button_confirms(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, clock: Clock
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/subscribe?lang=fr")
        resp = await client.post("/subscribe", data=signup_form(token))
        page = await resp.text()
        assert resp.status == 200 and "Vérifiez votre boîte" in page
        [mail] = smtp.handler.received
        msg = mail.parsed()
        assert mail.rcpt_tos == [ADDRESS]
        assert msg["Subject"] == "Confirmez votre abonnement à Réseau des villes"
        link = link_in(msg)
        assert_no_address(link)
        assert "List-Unsubscribe" not in msg
        sub = store.find_subscriber(ADDRESS)
        assert sub is not None and sub.status is Status.PENDING
        assert (sub.consent.method, sub.consent.version) == ("web", "2026-12")
        assert sub.language == "fr" and sub.editions == ("hebdo",)

        for _ in range(3):  # a mail scanner opening the link, as often as it likes
            resp = await client.get(local(link))
            assert resp.status == 200
            assert "Confirmer mon abonnement" in await resp.text()
        assert store.get_subscriber(sub.id).status is Status.PENDING  # type: ignore[union-attr]

        page = await (await client.get(local(link))).text()
        form_token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
        t = parse_qs(urlsplit(link).query)["t"][0]
        resp = await client.post("/subscribe/confirm", data={"csrf": form_token, "t": t})
        assert resp.status == 200 and "Abonnement confirmé" in await resp.text()
        done = store.get_subscriber(sub.id)
        assert done is not None and done.status is Status.CONFIRMED
        assert done.confirmed == clock.now
        assert [e.kind for e in store.subscriber_events(sub.id)] == ["subscribed", "confirmed"]

    run_app(subscriber_app(settings, clock), body)


def test_resubmitting_an_address_sends_no_flood_and_tells_nobody_it_is_known(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, clock: Clock
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/subscribe")
        pages = []
        for _ in range(4):
            resp = await client.post("/subscribe", data=signup_form(token))
            pages.append(await resp.text())
        assert len(smtp.handler.received) == 1  # one mail per resend_minutes per address
        assert len(set(pages)) == 1  # the same answer each time
        clock.now += timedelta(minutes=16)
        await client.post("/subscribe", data=signup_form(token))
        assert len(smtp.handler.received) == 2

    run_app(subscriber_app(settings, clock), body)


def test_signups_are_rate_limited_per_client(
    settings: config.Settings, smtp: SmtpServer, clock: Clock
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/subscribe?lang=es")
        statuses = []
        for i in range(12):
            form = signup_form(token, address=f"persona{i}@ciudad.example", language="es")
            form.pop("edition-hebdo")
            form["edition-semanal"] = "on"
            resp = await client.post("/subscribe", data=form)
            statuses.append(resp.status)
        assert statuses == [200] * 10 + [429, 429]
        assert "Demasiadas" in await resp.text()
        assert len(smtp.handler.received) == 10

    run_app(subscriber_app(settings, clock), body)


def test_bad_signup_input_is_refused_in_the_visitors_language(
    settings: config.Settings, store: SqlStore, smtp: SmtpServer, clock: Clock
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/subscribe?lang=fr")
        form = signup_form(token, address="pas-une-adresse", consent="")
        form.pop("edition-hebdo")
        resp = await client.post("/subscribe", data=form)
        page = await resp.text()
        assert resp.status == 422
        assert "Indiquez votre adresse e-mail" in page
        assert "Choisissez au moins une édition" in page
        assert "Cochez la case" in page
        resp = await client.post("/subscribe", data=signup_form("forged"))
        assert resp.status == 403
        assert smtp.handler.received == [] and store.list_subscribers() == []

    run_app(subscriber_app(settings, clock), body)


# --------------------------------------------------------------------------------------------
# Links: refused when tampered, expired, stale or of another purpose


def _confirmed(store: SqlStore, settings: config.Settings, clock: Clock) -> Any:
    from aggregator.subscribers.rules import confirm, signup
    from aggregator.subscribers.service import apply

    change = signup(
        None,
        ADDRESS,
        "fr",
        ["hebdo"],
        clock.now,
        consent_version="1",
        nonce="n1",
        resend_after=timedelta(minutes=15),
    )
    assert change is not None
    sub = apply(store, change, clock.now)
    done = confirm(sub, clock.now)
    return apply(store, done, clock.now)  # type: ignore[arg-type]


def test_tampered_expired_stale_and_other_purpose_links_are_refused_and_change_nothing(
    settings: config.Settings, store: SqlStore, clock: Clock
) -> None:
    sub = _confirmed(store, settings, clock)
    good = tokens(clock).make(Purpose.MANAGE, sub.id, sub.nonce)
    confirm_kind = tokens(clock).make(Purpose.CONFIRM, sub.id, sub.nonce)
    other_id = tokens(clock).make(Purpose.MANAGE, sub.id + 1, sub.nonce)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    _, stamp, sig = good.split(".")
    swapped = ".".join([other_id.split(".")[0], stamp, sig])  # another id under this signature

    async def body(client: TestClient[Any, Any]) -> None:
        for token in (tampered, swapped, confirm_kind, "", "x" * 40):
            for path in (f"/preferences?t={token}&lang=fr", f"/unsubscribe?t={token}&lang=fr"):
                resp = await client.get(path)
                assert resp.status == 400, (path, await resp.text())
                assert "Ce lien n’est pas valide" in await resp.text()
            resp = await client.post(
                f"/unsubscribe?t={token}", data={"List-Unsubscribe": "One-Click"}
            )
            assert resp.status == 400
        clock.now += timedelta(days=settings.subscribers.link_days + 1)
        resp = await client.get(f"/preferences?t={good}&lang=fr")
        assert resp.status == 410 and "Ce lien a expiré" in await resp.text()
        resp = await client.post(f"/unsubscribe?t={good}", data={"List-Unsubscribe": "One-Click"})
        assert resp.status == 410

    run_app(subscriber_app(settings, clock), body)
    after = store.get_subscriber(sub.id)
    assert after is not None and after.status is Status.CONFIRMED
    assert [e.kind for e in store.subscriber_events(sub.id)] == ["subscribed", "confirmed"]


def test_a_link_mailed_before_a_new_signup_is_stale(
    settings: config.Settings, store: SqlStore, clock: Clock
) -> None:
    from aggregator.subscribers.service import leave, signup

    sub = _confirmed(store, settings, clock)
    old = tokens(clock).make(Purpose.MANAGE, sub.id, sub.nonce)
    leave(store, sub, clock.now, "page")
    clock.now += timedelta(days=1)
    signup(store, settings, ADDRESS, "fr", ["hebdo"], clock.now)  # a new opt-in: a new nonce

    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get(f"/preferences?t={old}&lang=fr")
        assert resp.status == 410 and "n’est plus valide" in await resp.text()

    run_app(subscriber_app(settings, clock), body)


# --------------------------------------------------------------------------------------------
# Preferences and leaving


def test_preferences_change_language_and_editions_of_that_one_subscription_only(
    settings: config.Settings, store: SqlStore, clock: Clock
) -> None:
    sub = _confirmed(store, settings, clock)
    token = tokens(clock).make(Purpose.MANAGE, sub.id, sub.nonce)

    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get(f"/preferences?t={token}&lang=fr")
        page = await resp.text()
        assert resp.status == 200
        assert "C•••@ville.example" in page and ADDRESS not in page  # masked for forwardees
        assert 'name="address"' not in page  # nobody can move the subscription elsewhere
        form_token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
        data = {"csrf": form_token, "t": token, "language": "es", "edition-semanal": "on"}
        resp = await client.post("/preferences", data=data)
        assert resp.status == 200
        assert "Sus opciones están guardadas." in await resp.text()  # in the new language

    run_app(subscriber_app(settings, clock), body)
    after = store.get_subscriber(sub.id)
    assert after is not None and (after.language, after.editions) == ("es", ("semanal",))
    assert store.subscriber_events(sub.id)[-1].kind == "preferences"


def test_one_click_post_unsubscribes_at_once_and_a_get_only_shows_the_button(
    settings: config.Settings, store: SqlStore, clock: Clock
) -> None:
    sub = _confirmed(store, settings, clock)
    token = tokens(clock).make(Purpose.MANAGE, sub.id, sub.nonce)

    async def body(client: TestClient[Any, Any]) -> None:
        for _ in range(2):
            resp = await client.get(f"/unsubscribe?t={token}")
            assert resp.status == 200 and 'id="leave"' in await resp.text()
        assert store.get_subscriber(sub.id).status is Status.CONFIRMED  # type: ignore[union-attr]
        # the button of the page without its session's token is refused
        resp = await client.post("/unsubscribe", data={"t": token, "csrf": "forged"})
        assert resp.status == 403
        assert store.get_subscriber(sub.id).status is Status.CONFIRMED  # type: ignore[union-attr]
        # the mailbox provider's POST: no cookie, no CSRF token, the signed URL only
        client.session.cookie_jar.clear()
        resp = await client.post(f"/unsubscribe?t={token}", data={"List-Unsubscribe": "One-Click"})
        assert resp.status == 200 and (await resp.text()).strip() == "unsubscribed"

    run_app(subscriber_app(settings, clock), body)
    after = store.get_subscriber(sub.id)
    assert after is not None and after.status is Status.UNSUBSCRIBED
    assert store.subscriber_events(sub.id)[-1].detail == "one-click"


def test_the_unsubscribe_button_leaves_in_the_visitors_language(
    settings: config.Settings, store: SqlStore, clock: Clock
) -> None:
    sub = _confirmed(store, settings, clock)
    token = tokens(clock).make(Purpose.MANAGE, sub.id, sub.nonce)

    async def body(client: TestClient[Any, Any]) -> None:
        page = await (await client.get(f"/unsubscribe?t={token}&lang=fr")).text()
        form_token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
        resp = await client.post("/unsubscribe", data={"t": token, "csrf": form_token})
        assert resp.status == 200 and "Désabonnement effectué" in await resp.text()

    run_app(subscriber_app(settings, clock), body)
    assert store.get_subscriber(sub.id).status is Status.UNSUBSCRIBED  # type: ignore[union-attr]
