"""In a real browser: a French reader types a query on the French page of the site, finds a
post through a plural and an accent difference, and follows the search as an Atom feed that
validates.  Screenshots at 1280 and 375 px go to ``AGGREGATOR_SCREENSHOTS`` (else the test's
temporary directory)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from aggregator import config
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from aggregator.web.app import make_app
from tests.browser import Served, screenshots, serving
from tests.search_labelled import fill
from tests.stores import at_head
from tests.test_publish import atom_schema
from tests.test_search_web import FEEDS_YAML

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML, encoding="utf-8")
    settings = config.load(path)
    with open_store(at_head(settings.storage_url)) as store:
        fill(store)
        publish_all(store, settings, datetime(2026, 11, 21, tzinfo=UTC))
    with serving(make_app(settings)) as served:
        yield served


def test_a_french_query_finds_a_plural_with_an_accent_and_the_feed_validates(
    french_browser: Any, site: Served, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    french_reader, base = french_browser, site.url
    shots = screenshots(tmp_path)
    french_reader.set_window_size(1280, 1000)
    french_reader.get(f"{base}/fr/index.html")
    assert french_reader.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    box = french_reader.find_element(By.ID, "search-q")
    box.send_keys("bibliotheque")  # the post says "bibliothèques": a plural and an accent
    french_reader.save_screenshot(str(shots / "search-1-fr-page-1280.png"))
    box.submit()

    titles = [e.text for e in french_reader.find_elements(By.CSS_SELECTOR, "#results h2 a")]
    assert titles == ["Les bibliothèques municipales élargissent leurs horaires"]
    marks = [e.text for e in french_reader.find_elements(By.CSS_SELECTOR, "#results mark")]
    assert "bibliothèques" in marks
    count = french_reader.find_element(By.ID, "count").text
    assert count.startswith("1 article trouvé")
    french_reader.save_screenshot(str(shots / "search-2-results-1280.png"))
    french_reader.set_window_size(375, 900)
    french_reader.save_screenshot(str(shots / "search-3-results-375.png"))
    width = french_reader.execute_script("return document.documentElement.scrollWidth")
    assert width <= 375  # no sideways scrolling on a phone

    link = french_reader.find_element(By.CSS_SELECTOR, 'a[type="application/atom+xml"]')
    assert link.text == "Suivre cette recherche (flux Atom)"
    with urllib.request.urlopen(link.get_attribute("href"), timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("application/atom+xml")
        data = answer.read()
    assert atom_schema().validate(etree.fromstring(data).getroottree()), atom_schema().error_log
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == titles
    assert parsed.feed.language == "fr"
