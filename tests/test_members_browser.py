"""End to end in a real browser: a member submits a feed on the web form, an operator approves
it from the command line, a cycle fetches it, and its posts are in the combined Atom feed.

The browser (the ``browser`` and ``french_browser`` fixtures) and the server are those of
tests/browser.py.  Screenshots of the form, the preview and the confirmation go to
``AGGREGATOR_SCREENSHOTS`` (else the test's temporary directory), for a person to look at.

The feed is served on 127.0.0.1, which a member submission must never reach.  The test gets
there only through ``add_member_routes(..., discoverer=...)``, a Python argument that no
setting or request can reach (``loopback_discoverer`` in test_members_web.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import lxml.etree
import pytest
from aiohttp import web
from click.testing import CliRunner

import tests.browser
from aggregator import config
from aggregator.cli.main import main
from aggregator.cycle import run_cycle
from aggregator.models import ErrorKind
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from aggregator.web.members import add_member_routes
from tests.browser import Served, require_browser, screenshots
from tests.httpserver import FixtureServer
from tests.test_discover import RSS, feed, quiet
from tests.test_members_web import loopback_discoverer

ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}

pytestmark = pytest.mark.browser


def test_member_submits_operator_approves_and_posts_reach_the_combined_feed(
    browser: Any, http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    quiet(http_server)
    feed_url = http_server.url("/news/feed.xml")
    http_server.route(
        "/news/feed.xml", feed(title="Riverside News", self_url=feed_url), headers=RSS
    )
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds_yaml.write_text(
        "# Browser test network\n"
        "site:\n"
        '  title: "Browser test network"\n'
        "  output_dir: output\n"
        "fetch:\n"
        f'  allow_private: ["{http_server.hostport}"]   # the operator\'s own test server\n'
        "sources: []\n",
        encoding="utf-8",
    )
    app = web.Application()
    add_member_routes(
        app,
        config.load(feeds_yaml),
        discoverer=loopback_discoverer(http_server.hostport),  # the test-only hook
        clock=lambda: now,
        env={},
    )
    shots = screenshots(tmp_path)
    served = Served(app).start()
    try:
        base = f"http://127.0.0.1:{served.port}"
        browser.get(f"{base}/submit")
        browser.save_screenshot(str(shots / "1-submit.png"))
        browser.find_element(By.ID, "url").send_keys(feed_url)
        browser.find_element(By.ID, "organisation").send_keys("City of Riverside")
        browser.find_element(By.ID, "contact").send_keys("web@riverside.example")
        Select(browser.find_element(By.ID, "language")).select_by_value("en")
        browser.find_element(By.ID, "preview").click()
        wait = WebDriverWait(browser, 20)
        title = wait.until(ec.presence_of_element_located((By.ID, "feed-title")))
        assert title.text == "Riverside News"
        latest = browser.find_elements(By.CSS_SELECTOR, "#latest > li")
        assert len(latest) == 3
        browser.save_screenshot(str(shots / "2-preview.png"))
        browser.find_element(By.ID, "confirm").click()
        ident = wait.until(ec.presence_of_element_located((By.ID, "submission-id"))).text
        browser.save_screenshot(str(shots / "3-queued.png"))
    finally:
        served.stop()
    assert re.fullmatch(r"\d+", ident)

    approved = CliRunner().invoke(main, ["feeds", "approve", ident, "--config", str(feeds_yaml)])
    assert approved.exit_code == 0, approved.output
    settings = config.load(feeds_yaml)
    [source] = settings.sources
    assert (source.url, source.contact) == (feed_url, "web@riverside.example")
    assert feeds_yaml.read_text(encoding="utf-8").startswith("# Browser test network\n")

    store = open_store(settings.storage_url)
    try:
        report = run_cycle(settings, store, clock=lambda: now, workers=1)
        assert [o.new_posts for o in report.outcomes] == [4]
        publish_all(store, settings, now)
    finally:
        store.close()
    root = lxml.etree.parse(str(settings.output_dir / "feed.atom")).getroot()
    titles = [t.text or "" for t in root.findall("a:entry/a:title", ATOM_NS)]
    assert any("green" in t and "library" in t for t in titles), titles
    assert "Mayors meet on housing and local finance" in titles


def test_a_french_member_reads_the_form_its_refusals_and_the_sources_in_french(
    french_browser: Any, http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    quiet(http_server)
    broken = http_server.url("/actualites/flux.xml")  # answers 404
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds_yaml.write_text(
        "site:\n"
        '  title: "Réseau de test"\n'
        "  languages: [fr, en, es]\n"
        "  output_dir: output\n"
        "fetch:\n"
        f'  allow_private: ["{http_server.hostport}"]\n'
        "sources:\n"
        "  - {id: ville, name: Actualités de la ville, organisation: Ville, "
        "url: 'https://ville.example/flux.xml', language: fr}\n",
        encoding="utf-8",
    )
    settings = config.load(feeds_yaml)
    with open_store(settings.storage_url) as store:
        store.sync_sources(settings.source_list())
        state = store.get_states()["ville"]
        store.set_state(
            replace(
                state,
                last_fetch=now,
                last_error="HTTP 503 Service Unavailable",
                last_error_kind=ErrorKind.HTTP_STATUS,
                last_error_params={"status": 503},
                consecutive_failures=3,
                failing_since=now,
            )
        )
    app = web.Application()
    add_member_routes(
        app,
        settings,
        discoverer=loopback_discoverer(http_server.hostport),  # the test-only hook
        clock=lambda: now,
        env={},
    )
    shots = screenshots(tmp_path)
    served = Served(app).start()
    browser = french_browser
    wait = WebDriverWait(browser, 20)
    try:
        base = f"http://127.0.0.1:{served.port}"
        browser.get(f"{base}/submit")
        assert browser.find_element(By.TAG_NAME, "h1").text == (
            "Proposez le flux de votre organisation"
        )
        current = browser.find_element(By.CSS_SELECTOR, "#languages a[aria-current]")
        assert current.text == "Français"
        browser.save_screenshot(str(shots / "fr-1-submit.png"))
        browser.find_element(By.ID, "url").send_keys(broken)
        browser.find_element(By.ID, "organisation").send_keys("Ville de Rivière")
        browser.find_element(By.ID, "contact").send_keys("web@riviere.example")
        browser.find_element(By.ID, "preview").click()
        refusal = wait.until(ec.presence_of_element_located((By.ID, "refusal")))
        assert refusal.get_attribute("textContent") == (  # .text turns no-break spaces to spaces
            "Nous ne pouvons pas ajouter cette adresse\u00a0: nous n’avons pas pu la lire, car "
            "le serveur indique que cette adresse n’existe pas (HTTP 404)"
        )
        browser.save_screenshot(str(shots / "fr-2-refusal.png"))
        browser.delete_all_cookies()  # the session ends: the form in the page has expired
        browser.find_element(By.ID, "preview").click()
        expired = wait.until(ec.presence_of_element_located((By.ID, "message"))).text
        assert expired.startswith("Ce formulaire a expiré ou n’a pas été envoyé depuis ce site.")
        browser.save_screenshot(str(shots / "fr-3-expired.png"))
        browser.get(f"{base}/sources")
        cells = browser.find_elements(By.CSS_SELECTOR, "#source-ville td")
        assert [c.text for c in cells][2:5:2] == [
            "en erreur",
            "le serveur est temporairement indisponible (HTTP 503)",
        ]
        browser.save_screenshot(str(shots / "fr-4-sources.png"))
        browser.find_element(By.LINK_TEXT, "Español").click()  # the switch: a plain link
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Estado de las fuentes"))
        cells = browser.find_elements(By.CSS_SELECTOR, "#source-ville td")
        assert cells[4].text == "el servidor no está disponible temporalmente (HTTP 503)"
        browser.save_screenshot(str(shots / "es-1-sources.png"))
        browser.get(f"{base}/submit")  # the choice outlasts the page
        assert browser.find_element(By.TAG_NAME, "h1").text == (
            "Proponga el canal de su organización"
        )
    finally:
        served.stop()


def test_missing_browser_fails_instead_of_skipping_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tests.browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("AGGREGATOR_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="AGGREGATOR_REQUIRE_BROWSER=1"):
        require_browser()
    monkeypatch.delenv("AGGREGATOR_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception, match="no-chromium"):
        require_browser()
