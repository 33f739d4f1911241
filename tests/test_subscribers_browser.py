"""The whole subscriber path in a real browser, in French: the signup form, the confirmation
mail arriving in aiosmtpd on 127.0.0.1, a GET of its link that changes nothing, the button that
confirms, the next edition reaching the address in French, the one-click POST to its
List-Unsubscribe URL, and the following edition skipping the address.

Screenshots (1280 and 375 px for the pages, 600 px for the digest) go to
``AGGREGATOR_SCREENSHOTS`` or the test's temporary directory.
"""

from __future__ import annotations

import re
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aggregator import config
from aggregator.i18n import TEMPLATES_DIR
from aggregator.newsletter.digest import send
from aggregator.store import open_store
from aggregator.store.subscribers import Status
from aggregator.subscribers.tokens import Tokens
from aggregator.web.members import add_member_routes
from tests.browser import MAIL_WIDTH, Served, screenshots, shoot
from tests.test_digest import SOURCES, add, make_post
from tests.test_mail import SmtpServer, free_port
from tests.test_subscribers_send import paced
from tests.test_subscribers_web import SECRET, Clock

pytestmark = pytest.mark.browser
ADDRESS = "claire.dubois@ville.example"


def heading(browser: Any, text: str) -> None:
    """Wait for the page whose h1 is ``text`` (a click's navigation ends on its own time)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))


async def _css(_: web.Request) -> web.FileResponse:
    return web.FileResponse(TEMPLATES_DIR / "static" / "site.css")


def test_a_french_reader_signs_up_confirms_receives_and_leaves_in_one_click(
    french_browser: Any, smtp: SmtpServer, tmp_path: Path, now: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser = french_browser
    shots = screenshots(tmp_path)
    port = free_port()
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds_yaml.write_text(
        "site:\n"
        '  title: "Réseau des villes"\n'
        f'  base_url: "http://127.0.0.1:{port}/"\n'
        "  languages: [fr, en, es]\n"
        "digest:\n"
        f"  smtp: {{host: 127.0.0.1, port: {smtp.port}, security: none, "
        "from_address: news@network.example.org}\n"
        "  editions:\n"
        "    - {name: hebdo, language: fr}\n"
        "    - {name: weekly, language: en}\n",
        encoding="utf-8",
    )
    settings = config.load(feeds_yaml)
    store = open_store(settings.storage_url)
    store.sync_sources(SOURCES)
    add(store, make_post(1, first_seen=now - timedelta(hours=2), language="fr", title="Les villes"))
    clock = Clock(now)
    app = web.Application()
    add_member_routes(app, settings, clock=clock, env={"AGGREGATOR_SECRET": SECRET})
    app.router.add_get("/static/site.css", _css)
    served = Served(app, port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        browser.get(f"{base}/subscribe")
        assert browser.find_element(By.TAG_NAME, "h1").text == (
            "Recevoir les nouvelles du réseau par e-mail"
        )
        browser.find_element(By.ID, "address").send_keys(ADDRESS)
        browser.find_element(By.ID, "consent").click()
        shoot(browser, shots, "subscribe-1-form")
        browser.find_element(By.ID, "subscribe").click()
        heading(browser, "Vérifiez votre boîte aux lettres")
        shoot(browser, shots, "subscribe-2-sent")

        [mail] = smtp.handler.received
        msg = mail.parsed()
        assert msg["Subject"] == "Confirmez votre abonnement à Réseau des villes"
        link = link_in_http(msg)
        browser.get(link)  # what a mail scanner does too
        heading(browser, "Confirmez votre abonnement")
        assert browser.find_element(By.ID, "confirm").text == "Confirmer mon abonnement"
        sub = store.find_subscriber(ADDRESS)
        assert sub is not None and sub.status is Status.PENDING
        shoot(browser, shots, "subscribe-3-confirm")
        browser.find_element(By.ID, "confirm").click()
        heading(browser, "Abonnement confirmé")
        shoot(browser, shots, "subscribe-4-confirmed")
        assert store.find_subscriber(ADDRESS).status is Status.CONFIRMED  # type: ignore[union-attr]

        tokens = Tokens(SECRET.encode(), clock)
        later = now + timedelta(hours=1)
        report = send(store, settings, "hebdo", later, smtp_factory=paced, tokens=tokens)
        assert report.sent == (ADDRESS,)
        digest = smtp.handler.received[-1].parsed()
        assert digest["Subject"] == "Réseau des villes : 1 nouvel article"
        html = str(digest.get_body(("html",)).get_content())  # type: ignore[union-attr]
        assert 'lang="fr"' in html and "Les villes" in html and "Se désabonner" in html
        (tmp_path / "digest.html").write_text(html, encoding="utf-8")
        browser.get((tmp_path / "digest.html").as_uri())
        shoot(browser, shots, "subscribe-5-digest", (MAIL_WIDTH,))

        one_click = digest["List-Unsubscribe"].split(",")[0].strip("<> ")
        assert one_click.startswith(f"{base}/unsubscribe?t=") and ADDRESS not in one_click
        request = urllib.request.Request(
            one_click, data=b"List-Unsubscribe=One-Click", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        assert store.find_subscriber(ADDRESS).status is Status.UNSUBSCRIBED  # type: ignore[union-attr]

        add(store, make_post(2, first_seen=now + timedelta(days=2), language="fr", title="Suite"))
        after = send(
            store, settings, "hebdo", now + timedelta(days=7), smtp_factory=paced, tokens=tokens
        )
        assert after.sent == () and after.edition is not None
        assert len(smtp.handler.received) == 2
    finally:
        served.stop()
        store.close()


def link_in_http(msg: Any) -> str:
    """The confirmation link (http here: the test site is served on 127.0.0.1)."""
    body = msg.get_body(("plain",))
    found = re.search(r"http://\S+", str(body.get_content()))
    assert found is not None
    return found.group(0)
