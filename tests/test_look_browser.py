"""The page and the digest as readers see them, in a real browser (issue 16).

A member network on 127.0.0.1 (three organisations, posts in English, French and Spanish, lead
images, one story in three languages) goes through one real cycle; ``serve`` then answers the
browser.  The visible text of the French page and the French digest is checked against every
English message of the catalogs: a French reader must meet no English word of ours.
Screenshots of the page (en, fr, es at 1280 and 375 px) and of the digest (600 and 375 px) go
to ``AGGREGATOR_SCREENSHOTS`` (else the test's temporary directory), for a person to look at.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from PIL import Image, ImageDraw

from aggregator import config
from aggregator.cycle import fetch_and_publish
from aggregator.i18n import LOCALE_DIR
from aggregator.newsletter.digest import preview
from aggregator.store import open_store
from aggregator.web.app import make_app
from tests.browser import (
    MAIL_WIDTH,
    PAGE_WIDTHS,
    Served,
    full_page,
    running_chromium,
    screenshots,
    viewport,
)
from tests.httpserver import FixtureServer
from tests.test_mail import free_port

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RSS = {"Content-Type": "application/rss+xml"}


def _photo(seed: int) -> bytes:
    """A landscape-like picture: sky, hills and a sun, in colours that vary by seed."""
    width, height = 1200, 800
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    sky = [(70, 130, 180), (200, 120, 90), (90, 160, 150), (120, 110, 170)][seed % 4]
    for y in range(height):
        shade = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(c * (1 - 0.4 * shade)) for c in sky))
    draw.ellipse([800 - seed * 60, 120, 960 - seed * 60, 280], fill=(250, 220, 120))
    hill = [(46, 110, 60), (90, 120, 50), (60, 90, 110), (110, 80, 60)][seed % 4]
    ridge = [(0, 800), (0, 520), (400, 420 + seed * 20), (800, 560), (1200, 470), (1200, 800)]
    draw.polygon(ridge, fill=hill)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


STORIES = {
    "uclg": [
        # tagged in two languages, as members do: one topic, shown once ("Housing")
        ("en", "Local governments at the heart of the housing agenda", "Housing|Vivienda", 0),
        ("fr", "Les gouvernements locaux au cœur de l’agenda du logement", "Logement", 0),
        ("es", "Los gobiernos locales en el centro de la agenda de vivienda", "Vivienda", 0),
        ("en", "Culture as the fourth pillar of sustainable cities", "Culture", 1),
    ],
    "cemr": [
        ("en", "Municipalities welcome the new cohesion policy framework", "Cooperation", 2),
        ("fr", "Les villes européennes face au changement climatique", "Climat", 3),
        ("es", "Las regiones europeas ante la transición energética", "Clima", -1),
    ],
    "platforma": [
        ("fr", "Coopération décentralisée : un guide pour les élus", "Coopération", 1),
        ("es", "Cooperación descentralizada: una guía para los alcaldes", "Cooperación", 3),
        ("en", "Decentralised cooperation: a guide for mayors", "Cooperation", -1),
    ],
}
EXCERPT = {
    "en": "Mayors and councillors from across the network shared how their cities plan, fund "
    "and deliver the services residents rely on, and what they ask of national governments.",
    "fr": "Des maires et des élus de tout le réseau ont partagé la manière dont leurs villes "
    "planifient, financent et fournissent les services dont dépendent les habitants.",
    "es": "Alcaldes y concejales de toda la red compartieron cómo sus ciudades planifican, "
    "financian y prestan los servicios de los que dependen sus habitantes.",
}


def _feed(server: FixtureServer, sid: str) -> str:
    base = server.url(f"/{sid}")
    items = []
    for n, (lang, title, tag, picture) in enumerate(STORIES[sid]):
        slug = "housing-agenda" if sid == "uclg" and n < 3 else f"post-{n}"
        link = f"{base}/{lang}/{slug}"
        image = ""
        if picture >= 0:
            jpeg = {"Content-Type": "image/jpeg"}
            url = server.route(f"/{sid}/img/{n}.jpg", _photo(picture + n), headers=jpeg)
            image = f'&lt;img src="{url}" alt="{title} (photo)"&gt;'
        items.append(
            f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>Thu, {19 - n} Nov 2026 10:00:00 GMT</pubDate>"
            + "".join(f"<category>{t}</category>" for t in tag.split("|"))
            + f"<dc:language>{lang}</dc:language>"
            f"<description>{image} {EXCERPT[lang]}</description></item>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{sid}</title><link>{base}/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )
    return server.route(f"/{sid}/feed.rss", body, headers=RSS)


def _config(folder: Path, server: FixtureServer, base_url: str) -> Path:
    text = f"""
site:
  title: {{en: "Local and Regional Governments – Network News", fr: "Gouvernements locaux et régionaux – Actualités du réseau", es: "Gobiernos locales y regionales – Noticias de la red"}}
  base_url: '{base_url}'
  output_dir: out
  timezone: Europe/Brussels
  intro:
    en: "News, opinion and debate from the members of the network."
    fr: "Actualités, opinions et débats des membres du réseau."
    es: "Noticias, opiniones y debates de los miembros de la red."
fetch: {{allow_private: ['{server.hostport}']}}
topics:
  housing: {{en: Housing, fr: Logement, es: Vivienda}}
  culture: {{en: Culture, fr: Culture, es: Cultura}}
  climate: {{en: Climate, fr: Climat, es: Clima}}
  cooperation: {{en: Decentralised cooperation, fr: Coopération décentralisée, es: Cooperación descentralizada}}
digest:
  editions:
    - {{name: weekly, skip_empty: false, group_by: organisation}}
    - {{name: hebdo, language: fr, skip_empty: false, group_by: topic}}
sources:
  - id: uclg
    name: {{en: UCLG News, fr: Actualités CGLU, es: Noticias CGLU}}
    organisation: {{en: United Cities and Local Governments, fr: Cités et Gouvernements Locaux Unis, es: Ciudades y Gobiernos Locales Unidos}}
    short_name: {{en: UCLG, fr: CGLU, es: CGLU}}
    url: '{_feed(server, "uclg")}'
  - id: cemr
    name: {{en: CEMR News, fr: Actualités CCRE, es: Noticias CMRE}}
    organisation: {{en: Council of European Municipalities and Regions, fr: Conseil des Communes et Régions d’Europe, es: Consejo de Municipios y Regiones de Europa}}
    short_name: {{en: CEMR, fr: CCRE, es: CMRE}}
    url: '{_feed(server, "cemr")}'
  - id: platforma
    name: PLATFORMA
    organisation: PLATFORMA
    url: '{_feed(server, "platforma")}'
"""  # noqa: E501 - a network's names are long
    path = folder / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Network:
    url: str  # where serve answers
    digest_fr: str  # path under the site
    digest_en: str
    shots: Path
    root: Path  # the output directory, where the preview files are


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    folder = tmp_path_factory.mktemp("look-browser")
    member = FixtureServer().start()
    port = free_port()
    # the site's address is where serve answers, so the digest's images and logo load too
    settings = config.load(_config(folder, member, f"http://127.0.0.1:{port}/"))
    store = open_store(settings.storage_url)
    try:
        report, _ = fetch_and_publish(settings, store, clock=lambda: NOW)
        assert [o.error for o in report.outcomes] == [None, None, None]
        fr = preview(store, settings, "hebdo", NOW)
        en = preview(store, settings, "weekly", NOW)
    finally:
        store.close()
    served = Served(make_app(settings), port).start()  # the port its base_url names
    root = settings.output_dir
    try:
        yield Network(
            f"http://127.0.0.1:{served.port}/",
            fr.html_path.relative_to(root).as_posix(),
            en.html_path.relative_to(root).as_posix(),
            screenshots(folder),
            root,
        )
    finally:
        served.stop()
        member.stop()


@pytest.fixture(scope="module")
def browser(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One French chromium for the module's pages (tests/browser.py)."""
    with running_chromium(tmp_path_factory.mktemp("chromium"), "fr-FR,fr") as driver:
        yield driver


def _english_messages() -> list[str]:
    """Every English message whose French differs, as the fixed runs of words a reader sees
    (placeholders cut out), at least two words or eight letters long."""
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        french = {m.id: m.string for m in read_po(f) if m.id}
    runs = set()
    for msgid, msgstr in french.items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        strs = msgstr if isinstance(msgstr, tuple) else (msgstr,)
        for english in ids:
            if english in strs:
                continue  # the same in both languages: "Atom", "Sources", "Page"
            for run in re.split(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|%%", english):
                run = run.strip(" :.,()–-·")
                if len(run) >= 8 or (" " in run and len(run) >= 5):
                    runs.add(run)
    return sorted(runs)


def _visible_text(browser: Any) -> str:
    return str(browser.execute_script("return document.body.innerText"))


def _english_in(text: str) -> list[str]:
    return [m for m in _english_messages() if re.search(rf"(?<!\w){re.escape(m)}(?!\w)", text)]


def _fits(browser: Any) -> dict[str, Any]:
    return dict(
        browser.execute_script(
            "var imgs = [].slice.call(document.images);"
            "return {scroll: document.documentElement.scrollWidth,"
            " inner: window.innerWidth,"
            " broken: imgs.filter(function (i) { return !i.complete || !i.naturalWidth; })"
            "   .map(function (i) { return i.src; }),"
            " foreign: imgs.filter(function (i) { return i.src.indexOf(location.origin) !== 0; })"
            "   .map(function (i) { return i.src; })};"
        )
    )


def _shoot(browser: Any, url: str, width: int, path: Path) -> dict[str, Any]:
    """The whole page at ``width``, saved to ``path``; what ``_fits`` measured there."""
    full_page(browser, path, width, url)  # every lazy image in view, and loaded
    return _fits(browser)


def test_the_french_page_and_digest_show_no_english_word_of_ours(
    network: Network, browser: Any
) -> None:
    assert len(_english_messages()) > 100  # the check has teeth
    viewport(browser, 1280, 900)
    browser.get(network.url + "fr/index.html")
    page = _visible_text(browser)
    assert "Suivre" in page and "Aussi en" in page and "Cités et Gouvernements Locaux" in page
    assert _english_in(page) == []
    browser.get(network.url + network.digest_fr)
    digest = _visible_text(browser)
    assert "Coopération décentralisée" in digest and "Se désabonner" in digest
    assert _english_in(digest) == []
    # and the check would catch an English page
    browser.get(network.url + "en/index.html")
    assert "Latest posts" in _english_in(_visible_text(browser))


def test_screenshots_of_the_page_in_three_languages(network: Network, browser: Any) -> None:
    for lang in ("en", "fr", "es"):
        for width in PAGE_WIDTHS:
            shot = network.shots / f"page-{lang}-{width}.png"
            fits = _shoot(browser, f"{network.url}{lang}/index.html", width, shot)
            assert fits["scroll"] <= fits["inner"], (lang, width, fits)
            assert fits["broken"] == [] and fits["foreign"] == [], fits
            assert shot.stat().st_size > 10_000


def test_screenshots_of_the_digest(network: Network, browser: Any) -> None:
    for name, path in (("fr", network.digest_fr), ("en", network.digest_en)):
        for width in (MAIL_WIDTH, 375):
            shot = network.shots / f"digest-{name}-{width}.png"
            fits = _shoot(browser, network.url + path, width, shot)
            assert fits["scroll"] <= fits["inner"], (name, width, fits)
            # the thumbnails and the logo come from the site, never from a member's server
            assert fits["broken"] == [] and fits["foreign"] == [], fits


def test_the_all_languages_digest_shows_one_label_per_topic(network: Network, browser: Any) -> None:
    """The English post tagged "Housing" and "Vivienda" shows its topic once, in its own
    language (the all-languages edition), as the page does."""
    from selenium.webdriver.common.by import By

    _shoot(browser, network.url + network.digest_en, 600, network.shots / "digest-en-tags-600.png")
    tags = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".item .tags")]
    assert "Housing" in tags and "Vivienda" in tags  # the English post, the Spanish one
    assert not any("," in t for t in tags), tags
    browser.get(network.url + "index.html")
    assert "Housing, Vivienda" not in _visible_text(browser)


def test_the_preview_file_opened_from_disk_shows_its_images(network: Network, browser: Any) -> None:
    """``digest preview`` writes an .html a reviewer opens from disk: the logo and thumbnails
    come from the published copies (relative paths), not from the site's address."""
    for name, path in (("en", network.digest_en), ("fr", network.digest_fr)):
        page = (network.root / path).resolve()
        shot = network.shots / f"digest-{name}-file-600.png"
        fits = _shoot(browser, page.as_uri(), 600, shot)
        sources = browser.execute_script("return [].map.call(document.images, i => i.src)")
        assert len(sources) >= 2, sources  # the logo and at least one thumbnail
        assert all(src.startswith("file://") for src in sources), sources
        assert fits["broken"] == [], fits


def test_the_member_pages_follow_the_pages_language_under_the_same_header(
    network: Network, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    _shoot(browser, network.url + "fr/index.html", 1280, network.shots / "page-fr-before.png")
    browser.find_element(By.CSS_SELECTOR, "nav.actions a[href*='submit']").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Proposez le flux de votre organisation"
    title = browser.find_element(By.CSS_SELECTOR, ".masthead .site-title").text
    assert title == "Gouvernements locaux et régionaux – Actualités du réseau"
    browser.save_screenshot(str(network.shots / "submit-fr-1280.png"))
    for width in PAGE_WIDTHS:
        shot = network.shots / f"sources-es-{width}.png"
        fits = _shoot(browser, network.url + "sources?lang=es", width, shot)
        assert fits["scroll"] <= fits["inner"] and fits["broken"] == [], fits
    table = _visible_text(browser)
    assert "Ciudades y Gobiernos Locales Unidos" in table and "Noticias CGLU" in table
    assert "20/11/2026 12:00 UTC" in table
