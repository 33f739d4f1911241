"""``/search`` and ``/search.atom`` on ``serve``: the labelled posts in a real SQLite store,
the real application over loopback, pages read back with lxml and feeds with feedparser and
the Atom RELAX NG schema."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree, html

from aggregator import config
from aggregator.store import open_store
from aggregator.web.app import make_app
from tests.search_labelled import fill
from tests.stores import at_head
from tests.test_publish import atom_schema

NOW = datetime(2026, 11, 21, tzinfo=UTC)

FEEDS_YAML = """\
site:
  title: "Test network"
  base_url: "https://news.example.org/"
  languages: [en, fr, es]
  output_dir: out
topics:
  climate: [climate, climat, clima]
sources: []
"""


@pytest.fixture
def settings(tmp_path: Path) -> config.Settings:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML, encoding="utf-8")
    loaded = config.load(path)
    with open_store(at_head(loaded.storage_url)) as store:
        fill(store)
    return loaded


def run(settings: config.Settings, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def go() -> None:
        async with TestClient(TestServer(make_app(settings))) as client:
            await body(client)

    asyncio.run(go())


async def page_of(client: TestClient[Any, Any], url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status == status, await response.text()
    return html.fromstring(await response.text())


def titles(doc: Any) -> list[str]:
    return [a.text_content() for a in doc.cssselect("#results h2 a")]


def test_a_french_page_finds_a_plural_with_accents_and_marks_it(settings: config.Settings) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        doc = await page_of(client, "/search?q=bibliotheque&lang=fr")
        assert doc.get("lang") == "fr"
        assert titles(doc) == ["Les bibliothèques municipales élargissent leurs horaires"]
        marked = [m.text for m in doc.cssselect("#results mark")]
        assert "bibliothèques" in marked
        assert doc.cssselect("input#q")[0].get("value") == "bibliotheque"
        sources = await page_of(client, "/sources?lang=fr")
        box = sources.cssselect("form.search")[0]  # the query box of every page
        assert box.get("action") == "/search"
        assert box.cssselect('input[name="lang"]')[0].get("value") == "fr"
        feed = doc.cssselect('link[type="application/atom+xml"]')[0].get("href")
        assert feed.startswith("/search.atom?q=bibliotheque")

    run(settings, body)


def test_nothing_in_the_page_language_falls_back_to_every_language(
    settings: config.Settings,
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        doc = await page_of(client, "/search?q=heatwave&lang=fr")
        assert titles(doc) == ["Cool rooms and water fountains for the heatwave"]
        assert doc.cssselect("p.note")  # says it looked in every language
        only_fr = await page_of(client, "/search?q=heatwave&language=fr&lang=fr")
        assert titles(only_fr) == []
        assert "0" in only_fr.cssselect("#count")[0].text_content()

    run(settings, body)


def test_filters_and_pages(settings: config.Settings) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        doc = await page_of(client, "/search?q=plan&language=all&lang=en")
        assert len(titles(doc)) >= 4
        org = "Diputación de Sierra Alta"
        doc = await page_of(client, f"/search?q=plan&language=all&org={org}&lang=en")
        assert titles(doc) == ["Un plan contra las inundaciones para los municipios del valle"]
        doc = await page_of(client, "/search?q=plan&language=all&topic=égalité&lang=en")
        assert titles(doc) == ["Égalité entre les femmes et les hommes : un plan d'action"]
        first = await page_of(client, "/search?q=municipal&language=all&lang=en")
        older = first.cssselect('a[rel="next"]')
        if older:  # more than a page: the next one differs and links back
            second = await page_of(client, older[0].get("href"))
            assert not set(titles(first)) & set(titles(second))
            assert second.cssselect('a[rel="prev"]')

    run(settings, body)


def test_bad_input_is_refused_in_the_visitor_language(settings: config.Settings) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        doc = await page_of(client, "/search?q=plan&from=31/12/2026&lang=fr", 400)
        assert doc.cssselect("p.error")[0].text_content() == "Les dates s’écrivent AAAA-MM-JJ."
        doc = await page_of(client, "/search?q=plan&page=0&lang=es", 400)
        assert doc.cssselect("p.error")
        doc = await page_of(client, "/search?lang=en")  # an empty box: the form, no results
        assert not doc.cssselect("#results")

    run(settings, body)


def test_text_of_a_post_is_escaped_around_the_marks(settings: config.Settings) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get("/search?q=%3Cscript%3E+plan&lang=en")
        text = await response.text()
        assert "<script>" not in text
        assert response.headers["Content-Security-Policy"]

    run(settings, body)


def test_the_saved_search_is_a_valid_atom_feed(settings: config.Settings) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get("/search.atom?q=bibliotheque&lang=fr")
        assert response.status == 200
        assert response.content_type == "application/atom+xml"
        data = await response.read()
        root = etree.fromstring(data)
        assert atom_schema().validate(root.getroottree()), atom_schema().error_log
        parsed = feedparser.parse(data)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert [e.title for e in parsed.entries] == [
            "Les bibliothèques municipales élargissent leurs horaires"
        ]
        assert "bibliotheque" in parsed.feed.title
        self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
        assert self_link.startswith("https://news.example.org/search.atom?q=bibliotheque")
        bad = await client.get("/search.atom?lang=fr")
        assert bad.status == 400

    run(settings, body)
